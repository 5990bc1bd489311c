#!/usr/bin/env python3
"""Derives the field schemas of the component configuration files kcompile writes from the
upstream Go types, per Kubernetes minor, into src/versions/configs/<kind>.tsv.

    KubeletConfiguration      kubelet.config.k8s.io/v1beta1      kubernetes/kubelet config/v1beta1
    KubeProxyConfiguration    kubeproxy.config.k8s.io/v1alpha1   kubernetes/kube-proxy config/v1alpha1
    KubeSchedulerConfiguration kubescheduler.config.k8s.io/v1    kubernetes/kube-scheduler config/v1
        (plus every plugin args kind its register.go registers: `<Plugin>Args`)

For each minor 1.33..1.37 it takes the newest release tag `v0.<minor>.N` of the staging repository
(or, when a minor has none yet, its newest pre-release), resolves the other modules at the versions
that repository's go.mod requires at that tag (component-base, apimachinery, api), and walks the
structs the way encoding/json sees them: json tags, `json:"-"`, embedded structs promoted, pointers,
slices, maps. Types that decode themselves (an UnmarshalJSON method) must be listed in LEAVES;
finding one that is not stops the script, so a new custom type is never walked as a plain struct.

Usage:
    scripts/component_configs.py --mirrors DIR            write src/versions/configs/*.tsv
    scripts/component_configs.py --check                  check the committed tables offline
    scripts/component_configs.py --check --mirrors DIR    also regenerate and compare byte for byte

DIR holds one bare git repository per upstream repository, at DIR/<owner>+<name>/repo (the layout
the search tool's `fetch` writes), for kubernetes/{kubelet,kube-proxy,kube-scheduler,
component-base,apimachinery,api}. Nothing fetched is committed; only the derived tables are.
"""

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "src", "versions", "configs")
MINORS = range(33, 38)

# Go module path -> GitHub repository.
MODULE_REPOS = {
    "k8s.io/kubelet": "kubernetes/kubelet",
    "k8s.io/kube-proxy": "kubernetes/kube-proxy",
    "k8s.io/kube-scheduler": "kubernetes/kube-scheduler",
    "k8s.io/component-base": "kubernetes/component-base",
    "k8s.io/apimachinery": "kubernetes/apimachinery",
    "k8s.io/api": "kubernetes/api",
}


@dataclass
class Kind:
    """One config file kcompile writes: its table name, repository, package and root types."""

    table: str
    module: str
    package: str
    api_version: str
    # None: every type register.go's addKnownTypes registers.
    roots: list = None


KINDS = [
    Kind("kubelet", "k8s.io/kubelet", "config/v1beta1", "kubelet.config.k8s.io/v1beta1",
         ["KubeletConfiguration"]),
    Kind("kube-proxy", "k8s.io/kube-proxy", "config/v1alpha1",
         "kubeproxy.config.k8s.io/v1alpha1", ["KubeProxyConfiguration"]),
    Kind("kube-scheduler", "k8s.io/kube-scheduler", "config/v1", "kubescheduler.config.k8s.io/v1",
         None),
]

# Types whose JSON form is not their Go structure (they have UnmarshalJSON), as the leaf type the
# table records. (module package path, type name) -> leaf type.
LEAVES = {
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "Duration"): "duration",
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "Time"): "time",
    ("k8s.io/apimachinery/pkg/apis/meta/v1", "MicroTime"): "time",
    ("k8s.io/apimachinery/pkg/api/resource", "Quantity"): "quantity",
    ("k8s.io/apimachinery/pkg/api/resource", "QuantityValue"): "quantity",
    ("k8s.io/apimachinery/pkg/runtime", "RawExtension"): "any",
    ("k8s.io/apimachinery/pkg/util/intstr", "IntOrString"): "int-or-string",
    ("k8s.io/component-base/logs/api/v1", "TimeOrMetaDuration"): "duration-or-int",
}

SCALARS = {
    "string": "string", "bool": "bool",
    "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64", "int": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64", "uint": "uint64",
    "byte": "uint8", "rune": "int32",
    "float32": "number", "float64": "number",
}

# Every type a table may hold; containers are followed by rows for their children.
TYPES = {"object", "list", "map", "string", "bool", "int8", "int16", "int32", "int64", "uint8",
         "uint16", "uint32", "uint64", "number", "bytes", "duration", "duration-or-int", "time",
         "quantity", "int-or-string", "any"}

# Fields each root must have at every minor: a floor the offline check holds the tables to.
KNOWN_FIELDS = {
    "KubeletConfiguration": ["apiVersion", "kind", "staticPodPath", "evictionHard", "featureGates",
                             "logging", "logging.format", "authentication.webhook.cacheTTL",
                             "registerWithTaints[].effect", "cgroupDriver", "maxPods"],
    "KubeProxyConfiguration": ["apiVersion", "kind", "mode", "clusterCIDR", "clientConnection",
                               "clientConnection.kubeconfig", "iptables.masqueradeAll",
                               "conntrack.maxPerCore", "logging.format", "featureGates"],
    "KubeSchedulerConfiguration": ["apiVersion", "kind", "profiles", "profiles[].plugins",
                                   "profiles[].plugins.score.enabled[].name",
                                   "profiles[].pluginConfig[].args", "leaderElection.leaderElect",
                                   "clientConnection.kubeconfig", "enableProfiling",
                                   "percentageOfNodesToScore", "extenders[].urlPrefix"],
    "NodeResourcesFitArgs": ["scoringStrategy.type", "scoringStrategy.resources[].weight"],
    "PodTopologySpreadArgs": ["defaultConstraints[].maxSkew", "defaultingType"],
}


class ScriptError(Exception):
    """What stops the script, with what to do about it."""


# ---------------------------------------------------------------------------------------------
# Git access to the mirrors.

class Mirrors:
    """The bare repositories under DIR, read with git."""

    def __init__(self, root):
        self.root = root
        self.cache = {}

    def path(self, repo):
        path = os.path.join(self.root, repo.replace("/", "+"), "repo")
        if not os.path.isdir(path):
            raise ScriptError(f"no mirror of {repo} at {path}: fetch github:{repo} first")
        return path

    def git(self, repo, *args):
        key = (repo,) + args
        if key not in self.cache:
            result = subprocess.run(["git", "-C", self.path(repo)] + list(args),
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise ScriptError(f"git {' '.join(args)} in {repo}: {result.stderr.strip()}")
            self.cache[key] = result.stdout
        return self.cache[key]

    def tags(self, repo):
        return self.git(repo, "tag").split()

    def commit(self, repo, tag):
        return self.git(repo, "rev-list", "-n", "1", tag).strip()

    def files(self, repo, tag, directory):
        listing = self.git(repo, "ls-tree", "--name-only", f"{tag}:{directory}")
        return [f"{directory}/{name}" for name in listing.split()]

    def show(self, repo, tag, path):
        return self.git(repo, "show", f"{tag}:{path}")


TAG = re.compile(r"^v0\.(\d+)\.(\d+)(?:-(alpha|beta|rc)\.(\d+))?$")
PRE = {"alpha": 0, "beta": 1, "rc": 2}


def tag_key(tag):
    match = TAG.match(tag)
    minor, patch, pre, number = match.groups()
    # A release sorts after its pre-releases.
    return (int(minor), int(patch), 1 if pre is None else 0, PRE.get(pre, 0), int(number or 0))


def pick_tag(tags, minor):
    """The newest release tag of a minor, or its newest pre-release when it has no release."""
    ours = [tag for tag in tags if TAG.match(tag) and int(TAG.match(tag).group(1)) == minor]
    releases = [tag for tag in ours if TAG.match(tag).group(3) is None]
    pool = releases or ours
    if not pool:
        raise ScriptError(f"no v0.{minor}.x tag: fetch the repositories again")
    return max(pool, key=tag_key)


def required_versions(go_mod):
    """Module path -> version, from a go.mod's require lines."""
    versions = {}
    for line in go_mod.splitlines():
        match = re.match(r"^\s*(?:require\s+)?(k8s\.io/[\w.-]+)\s+(v\S+)", line)
        if match:
            versions[match.group(1)] = match.group(2)
    return versions


# ---------------------------------------------------------------------------------------------
# A Go lexer and a parser for the top-level declarations the walk needs.

@dataclass
class Token:
    kind: str  # ident, string, number, op, ;
    text: str
    line: int


def lex(source):
    """Go tokens with their lines; comments dropped; automatic semicolons inserted."""
    tokens = []
    i, line, n = 0, 1, len(source)

    def newline():
        if tokens and (tokens[-1].kind in ("ident", "string", "number")
                       or tokens[-1].text in (")", "]", "}")):
            tokens.append(Token(";", ";", line))

    while i < n:
        c = source[i]
        if c == "\n":
            newline()
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end < 0 else end + 2
            lines = source.count("\n", i, end)
            if lines:
                newline()
            line += lines
            i = end
        elif c == "`":
            end = source.find("`", i + 1)
            end = n if end < 0 else end + 1
            tokens.append(Token("string", source[i:end], line))
            line += source.count("\n", i, end)
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            tokens.append(Token("string", source[i:j + 1], line))
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (source[j].isalnum() or source[j] == "_"):
                j += 1
            tokens.append(Token("ident", source[i:j], line))
            i = j
        elif c.isdigit():
            j = i
            while j < n and (source[j].isalnum() or source[j] in "._"):
                j += 1
            tokens.append(Token("number", source[i:j], line))
            i = j
        else:
            tokens.append(Token("op", c, line))
            i += 1
    newline()
    return tokens


@dataclass
class TypeExpr:
    """A Go type expression: named (pkg may be ''), pointer, list, map, struct, any or other."""

    form: str
    name: str = ""
    pkg: str = ""
    elem: "TypeExpr" = None
    fields: list = None


@dataclass
class Field:
    names: list  # empty: embedded
    type: TypeExpr
    tag: str
    path: str
    line: int


@dataclass
class TypeDecl:
    name: str
    type: TypeExpr
    path: str
    line: int
    imports: dict


class Parser:
    def __init__(self, tokens, path):
        self.tokens = tokens
        self.path = path
        self.i = 0

    def peek(self, offset=0):
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else Token("eof", "", 0)

    def next(self):
        token = self.peek()
        self.i += 1
        return token

    def expect(self, text):
        token = self.next()
        if token.text != text:
            raise ScriptError(f"{self.path}:{token.line}: expected `{text}`, found `{token.text}`")
        return token

    def type_expr(self):
        token = self.next()
        if token.text == "*":
            return TypeExpr("pointer", elem=self.type_expr())
        if token.text == "[":
            if self.peek().text == "]":
                self.next()
                return TypeExpr("list", elem=self.type_expr())
            while self.next().text != "]":
                pass
            return TypeExpr("list", elem=self.type_expr())
        if token.text == "map":
            self.expect("[")
            key = self.type_expr()
            self.expect("]")
            return TypeExpr("map", name=key.name if key.form == "named" else "", pkg=key.pkg,
                            elem=self.type_expr())
        if token.text == "struct":
            return TypeExpr("struct", fields=self.struct_fields())
        if token.text == "interface":
            self.skip_braces()
            return TypeExpr("any")
        if token.text in ("func", "chan"):
            self.skip_to_end()
            return TypeExpr("other")
        if token.kind == "ident":
            if token.text == "any":
                return TypeExpr("any")
            named = TypeExpr("named", name=token.text)
            if self.peek().text == "." and self.peek(1).kind == "ident":
                self.next()
                named = TypeExpr("named", name=self.next().text, pkg=token.text)
            if self.peek().text == "[":
                # A generic instantiation: never a config type.
                depth = 0
                while True:
                    text = self.next().text
                    depth += {"[": 1, "]": -1}.get(text, 0)
                    if depth == 0:
                        return TypeExpr("other")
            return named
        raise ScriptError(f"{self.path}:{token.line}: unexpected `{token.text}` in a type")

    def skip_braces(self):
        self.expect("{")
        depth = 1
        while depth:
            text = self.next().text
            depth += {"{": 1, "}": -1}.get(text, 0)

    def skip_to_end(self):
        depth = 0
        while True:
            token = self.peek()
            if token.kind == "eof" or (depth == 0 and token.text in (";", "}", ")")):
                return
            depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(token.text, 0)
            self.next()

    def struct_fields(self):
        self.expect("{")
        fields = []
        while True:
            token = self.peek()
            if token.text == "}":
                self.next()
                return fields
            if token.text == ";":
                self.next()
                continue
            line = token.line
            embedded = (token.text == "*"
                        or (token.kind == "ident" and self.peek(1).text in (";", "}", "."))
                        or (token.kind == "ident" and self.peek(1).kind == "string"))
            if embedded:
                names, type_ = [], self.type_expr()
            else:
                names = [self.next().text]
                while self.peek().text == ",":
                    self.next()
                    names.append(self.next().text)
                type_ = self.type_expr()
            tag = ""
            if self.peek().kind == "string":
                tag = self.next().text
            fields.append(Field(names, type_, tag, self.path, line))


def parse_file(source, path):
    """The package's type declarations in one file, and whether types have UnmarshalJSON."""
    tokens = lex(source)
    parser = Parser(tokens, path)
    imports, decls, custom = {}, [], set()
    depth = 0
    while parser.peek().kind != "eof":
        token = parser.next()
        if depth == 0 and token.text == "import":
            specs = []
            if parser.peek().text == "(":
                parser.next()
                while parser.peek().text != ")":
                    specs.append(parser.next())
                parser.next()
            else:
                specs = [parser.next()]
                if specs[0].kind != "string":
                    specs.append(parser.next())
            alias = None
            for spec in specs:
                if spec.kind == "string":
                    module_path = spec.text.strip('"`')
                    imports[alias or module_path.rsplit("/", 1)[-1]] = module_path
                    alias = None
                elif spec.kind == "ident" or spec.text in (".",):
                    alias = spec.text
        elif depth == 0 and token.text == "type":
            group = parser.peek().text == "("
            if group:
                parser.next()
            while True:
                if group and parser.peek().text == ";":
                    parser.next()
                    continue
                if group and parser.peek().text == ")":
                    parser.next()
                    break
                name = parser.next()
                if (parser.peek().text == "[" and parser.peek(1).kind == "ident"
                        and parser.peek(2).text != "]"):
                    parser.skip_to_end()
                    decl_type = TypeExpr("other")
                else:
                    if parser.peek().text == "=":
                        parser.next()
                    decl_type = parser.type_expr()
                decls.append(TypeDecl(name.text, decl_type, path, name.line, imports))
                if not group:
                    break
        elif depth == 0 and token.text == "func" and parser.peek().text == "(":
            # A method: func (r *T) Name(
            receiver = []
            parser.next()
            while parser.peek().text != ")":
                receiver.append(parser.next().text)
            parser.next()
            method = parser.peek().text
            if method in ("UnmarshalJSON", "UnmarshalText") and receiver:
                custom.add(receiver[-1])
        else:
            depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(token.text, 0)
    return decls, custom


# ---------------------------------------------------------------------------------------------
# Packages at versions, and the walk.

@dataclass
class Package:
    repo: str
    tag: str
    path: str  # import path
    types: dict = field(default_factory=dict)
    custom: set = field(default_factory=set)


class Universe:
    """The packages of one minor: module versions fixed by the root repository's go.mod."""

    def __init__(self, mirrors, root_module, root_tag):
        self.mirrors = mirrors
        self.versions = {root_module: root_tag}
        go_mod = mirrors.show(MODULE_REPOS[root_module], root_tag, "go.mod")
        for module, version in required_versions(go_mod).items():
            if module in MODULE_REPOS:
                self.versions[module] = version
        self.packages = {}
        self.used = set()

    def locate(self, import_path):
        for module, repo in MODULE_REPOS.items():
            if import_path == module or import_path.startswith(module + "/"):
                if module not in self.versions:
                    raise ScriptError(f"{import_path}: {module} is not required by go.mod")
                return repo, self.versions[module], import_path[len(module) + 1:]
        return None

    def package(self, import_path):
        if import_path not in self.packages:
            located = self.locate(import_path)
            if located is None:
                raise ScriptError(f"{import_path} is outside the fetched repositories")
            repo, tag, directory = located
            package = Package(repo, tag, import_path)
            for path in self.mirrors.files(repo, tag, directory):
                name = path.rsplit("/", 1)[-1]
                if (not name.endswith(".go") or name.endswith("_test.go")
                        or name.startswith("zz_generated") or name.startswith("generated.")
                        or name.endswith("_generated.go")):
                    continue
                decls, custom = parse_file(self.mirrors.show(repo, tag, path), path)
                package.custom |= custom
                for decl in decls:
                    package.types[decl.name] = decl
            self.packages[import_path] = package
        return self.packages[import_path]


@dataclass
class Row:
    root: str
    path: str
    type: str
    source: str


def json_name(field_, go_name):
    """(name, inline) from a struct tag, or None for a field JSON skips."""
    match = re.search(r'(?:^|[\s`])json:"([^"]*)"', field_.tag)
    if match:
        name = match.group(1).split(",")[0]
        if name == "-":
            return None
        return (name or go_name), (name == "")
    return go_name, True


class Walker:
    def __init__(self, universe, root):
        self.universe = universe
        self.root = root
        self.rows = []

    def resolve(self, expr, package, imports):
        """(package, TypeDecl) of a named type expression, or a leaf type name."""
        if expr.pkg:
            import_path = imports.get(expr.pkg)
            if import_path is None:
                raise ScriptError(f"{package.path}: unknown package `{expr.pkg}`")
        else:
            if expr.name in SCALARS:
                return SCALARS[expr.name]
            if expr.name in ("error", "any"):
                return "any"
            import_path = package.path
        if (import_path, expr.name) in LEAVES:
            return LEAVES[(import_path, expr.name)]
        target = self.universe.package(import_path)
        decl = target.types.get(expr.name)
        if decl is None:
            raise ScriptError(f"type {import_path}.{expr.name} not found at {target.tag}")
        if expr.name in target.custom:
            raise ScriptError(f"{import_path}.{expr.name} has its own UnmarshalJSON: add it to "
                              f"LEAVES with the JSON type it accepts")
        return target, decl

    def type_of(self, expr, package, imports, path, source, stack):
        """Emits the row of `path` with `expr`'s type and the rows below it."""
        if expr.form == "pointer":
            return self.type_of(expr.elem, package, imports, path, source, stack)
        if expr.form == "list":
            if expr.elem.form == "named" and not expr.elem.pkg and expr.elem.name in ("byte",
                                                                                       "uint8"):
                self.emit(path, "bytes", source)
                return
            self.emit(path, "list", source)
            self.type_of(expr.elem, package, imports, path + "[]", source, stack)
            return
        if expr.form == "map":
            self.emit(path, "map", source)
            self.type_of(expr.elem, package, imports, path + "{}", source, stack)
            return
        if expr.form == "any":
            self.emit(path, "any", source)
            return
        if expr.form == "other":
            raise ScriptError(f"{path}: a field of a type JSON cannot decode")
        if expr.form == "struct":
            self.emit(path, "object", source)
            self.struct(expr, package, imports, path, stack)
            return
        resolved = self.resolve(expr, package, imports)
        if isinstance(resolved, str):
            self.emit(path, resolved, source)
            return
        target, decl = resolved
        key = (target.path, decl.name)
        if key in stack:
            self.emit(path, "any", source)
            return
        self.universe.used.add((target.repo, target.tag))
        inner = decl.type
        if inner.form == "struct":
            self.emit(path, "object", source)
            self.struct(inner, target, decl.imports, path, stack + [key])
        else:
            self.type_of(inner, target, decl.imports, path, source, stack + [key])

    def struct(self, expr, package, imports, path, stack):
        for field_ in expr.fields:
            source = f"{package.repo}:{field_.path}:{field_.line}"
            go_name = field_.names[0] if field_.names else self.embedded_name(field_.type)
            named = json_name(field_, go_name)
            if named is None:
                continue
            name, inline = named
            if not field_.names and inline:
                # An embedded struct: its fields are promoted.
                inner = field_.type.elem if field_.type.form == "pointer" else field_.type
                resolved = self.resolve(inner, package, imports)
                if isinstance(resolved, str):
                    # A leaf's UnmarshalJSON would be promoted and decode the whole struct; an
                    # embedded scalar is a field named after its type. Neither occurs in these
                    # configs: stop rather than guess.
                    raise ScriptError(f"{source}: embeds {go_name}, which is not a plain struct")
                target, decl = resolved
                self.universe.used.add((target.repo, target.tag))
                if decl.type.form != "struct":
                    self.type_of(decl.type, target, decl.imports, self.child(path, go_name),
                                 source, stack)
                    continue
                self.struct(decl.type, target, decl.imports, path,
                            stack + [(target.path, decl.name)])
                continue
            if len(field_.names) > 1:
                raise ScriptError(f"{source}: one tag for several fields")
            if go_name[0].isupper():
                self.type_of(field_.type, package, imports, self.child(path, name), source, stack)

    @staticmethod
    def embedded_name(expr):
        return expr.elem.name if expr.form == "pointer" else expr.name

    @staticmethod
    def child(path, name):
        return f"{path}.{name}" if path else name

    def emit(self, path, type_, source):
        if type_ not in TYPES:
            raise ScriptError(f"{path}: type `{type_}` is not in TYPES")
        self.rows.append(Row(self.root, path, type_, source))


def roots_of(mirrors, kind, tag):
    if kind.roots is not None:
        return kind.roots
    register = mirrors.show(MODULE_REPOS[kind.module], tag, f"{kind.package}/register.go")
    body = re.search(r"AddKnownTypes\(SchemeGroupVersion,(.*?)\)", register, re.S)
    if body is None:
        raise ScriptError(f"{kind.module} {tag}: no AddKnownTypes in register.go")
    return re.findall(r"&(\w+)\{\}", body.group(1))


@dataclass
class Table:
    """One kind's rows for every minor, with the sources they came from."""

    kind: Kind
    sources: list  # (minor, repo, tag, commit)
    rows: list  # (minor, Row)


def derive(mirrors, kind):
    repo = MODULE_REPOS[kind.module]
    tags = mirrors.tags(repo)
    table = Table(kind, [], [])
    for minor in MINORS:
        tag = pick_tag(tags, minor)
        universe = Universe(mirrors, kind.module, tag)
        root_package = universe.package(f"{kind.module}/{kind.package}")
        universe.used.add((repo, tag))
        for root in roots_of(mirrors, kind, tag):
            decl = root_package.types.get(root)
            if decl is None:
                raise ScriptError(f"{kind.module} {tag}: no type {root}")
            walker = Walker(universe, root)
            walker.struct(decl.type, root_package, decl.imports, "", [(root_package.path, root)])
            table.rows.extend((minor, row) for row in walker.rows)
        for used_repo, used_tag in sorted(universe.used):
            table.sources.append((minor, used_repo, used_tag, mirrors.commit(used_repo, used_tag)))
    return table


# ---------------------------------------------------------------------------------------------
# The table format.

HEADER = """\
# {api_version} {kinds}, field by field, per Kubernetes minor.
# Derived by scripts/component_configs.py from the upstream Go types; do not edit (README.md).
# source<TAB>minor<TAB>repository<TAB>tag<TAB>commit: the inputs of each minor.
# Rows: minor<TAB>root type<TAB>path<TAB>type<TAB>repository:file:line of the Go field.
# A path is JSON field names joined by `.`; `[]` is a list's element, `{{}}` a map's value.
"""


def render(table):
    roots = []
    for _, row in table.rows:
        if row.root not in roots:
            roots.append(row.root)
    out = [HEADER.format(api_version=table.kind.api_version, kinds=", ".join(roots))]
    for minor, repo, tag, commit in table.sources:
        out.append(f"source\t1.{minor}\t{repo}\t{tag}\t{commit}\n")
    for minor, row in table.rows:
        out.append(f"1.{minor}\t{row.root}\t{row.path}\t{row.type}\t{row.source}\n")
    return "".join(out)


def parse_table(kind, text):
    sources, rows = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("#") or not line:
            continue
        columns = line.split("\t")
        if columns[0] == "source":
            if len(columns) != 5 or not re.fullmatch(r"[0-9a-f]{40}", columns[4]):
                raise ScriptError(f"{kind.table}.tsv:{number}: a malformed source line")
            sources.append((int(columns[1].split(".")[1]), columns[2], columns[3], columns[4]))
            continue
        if len(columns) != 5:
            raise ScriptError(f"{kind.table}.tsv:{number}: {len(columns)} columns, not 5")
        minor, root, path, type_, source = columns
        rows.append((int(minor.split(".")[1]), Row(root, path, type_, source)))
    return Table(kind, sources, rows)


def check_offline(kind, text):
    """Problems with a committed table that need no upstream source to see."""
    problems = []
    try:
        table = parse_table(kind, text)
    except (ScriptError, ValueError, IndexError) as error:
        return [str(error)]
    if render(table) != text:
        problems.append(f"{kind.table}.tsv is not in the form the script writes")
    by_minor = {}
    for minor, row in table.rows:
        by_minor.setdefault(minor, {}).setdefault(row.root, {})[row.path] = row
    cited = {(minor, repo) for minor, repo, _, _ in table.sources}
    for minor in MINORS:
        roots = by_minor.get(minor)
        if not roots:
            problems.append(f"{kind.table}: no rows for 1.{minor}")
            continue
        if (minor, MODULE_REPOS[kind.module]) not in cited:
            problems.append(f"{kind.table}: 1.{minor} has no source line for its repository")
        for root in (kind.roots or ["KubeSchedulerConfiguration"]):
            if root not in roots:
                problems.append(f"{kind.table}: 1.{minor} lacks {root}")
        for root, paths in roots.items():
            for known in KNOWN_FIELDS.get(root, []):
                if known not in paths:
                    problems.append(f"{kind.table}: 1.{minor} {root} lacks `{known}`")
            for path, row in paths.items():
                if row.type not in TYPES:
                    problems.append(f"{kind.table}: 1.{minor} {root} {path}: type `{row.type}`")
                parent = parent_path(path)
                if parent is not None:
                    container = paths.get(parent)
                    wanted = {"[]": "list", "{}": "map"}.get(path[len(parent):], "object")
                    if container is None or container.type != wanted:
                        problems.append(f"{kind.table}: 1.{minor} {root} {path}: no {wanted} "
                                        f"`{parent}` above it")
                repo = row.source.split(":", 1)[0]
                if (minor, repo) not in cited or not re.fullmatch(r"[\w./+-]+:[\w./-]+\.go:\d+",
                                                                  row.source):
                    problems.append(f"{kind.table}: 1.{minor} {root} {path}: source "
                                    f"`{row.source}` cites no source line")
    return problems


def parent_path(path):
    if path.endswith("[]") or path.endswith("{}"):
        return path[:-2]
    cut = path.rfind(".")
    return None if cut < 0 else path[:cut]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", help="directory of bare upstream repositories")
    parser.add_argument("--check", action="store_true",
                        help="check the committed tables instead of writing them")
    args = parser.parse_args()
    if not args.check and not args.mirrors:
        parser.error("writing the tables needs --mirrors")
    mirrors = Mirrors(args.mirrors) if args.mirrors else None
    problems = []
    try:
        for kind in KINDS:
            path = os.path.join(OUT_DIR, f"{kind.table}.tsv")
            derived = render(derive(mirrors, kind)) if mirrors else None
            if not args.check:
                os.makedirs(OUT_DIR, exist_ok=True)
                with open(path, "w", encoding="utf-8") as out:
                    out.write(derived)
                print(f"wrote {os.path.relpath(path, ROOT)}")
                continue
            try:
                with open(path, encoding="utf-8") as committed:
                    text = committed.read()
            except OSError as error:
                problems.append(f"{kind.table}.tsv: {error}")
                continue
            problems.extend(check_offline(kind, text))
            if derived is not None and derived != text:
                problems.append(f"{kind.table}.tsv differs from what the sources give: "
                                f"run scripts/component_configs.py --mirrors {args.mirrors}")
    except ScriptError as error:
        print(f"component_configs.py: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"component_configs.py: {problem}", file=sys.stderr)
    if args.check and not problems:
        print(f"component config tables: {len(KINDS)} kinds, minors 1.{MINORS[0]}..1.{MINORS[-1]}"
              f", {'regenerated and equal' if mirrors else 'consistent (offline)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
