#!/usr/bin/env python3
"""Extracts the flag names and feature gate names each release registers from tagged upstream source.

Reads git mirrors (made with the `fetch` tool or `git clone --mirror`) of:
  etcd-io/etcd, kubernetes/apiserver, kubernetes/component-base, kubernetes/controller-manager,
  kubernetes/cloud-provider, kubernetes/apiextensions-apiserver, kubernetes/client-go
with `git show TAG:PATH`, and writes, per component, every flag each release registers with the
repository, tag, commit, path and line that registers it, into src/versions/upstream/*.tsv.
It also writes kk-removals.tsv from the saved release-note reads (scripts/kk_changelog.py), for the
flags and gates only kubernetes/kubernetes registers. Nothing here uses the network. See
src/versions/upstream/README.md.

Usage: scripts/upstream_flags.py --mirrors /work/.mirror [--out src/versions/upstream] [--check]
A mirror of owner/name is looked up as <mirrors>/<owner>+<name>/repo (the layout `fetch` makes)
or <mirrors>/<owner>/<name>.git.
"""

import argparse
import os
import re
import subprocess
import sys

import kk_changelog

# Kubernetes minors kcompile supports, and the staging tag series of each (k8s 1.N = v0.N).
KUBE_MINORS = [33, 34, 35, 36, 37]
# etcd tags read: the oldest kubeadm accepts, the first and last 3.6 patch, every 3.7 release.
ETCD_TAGS = ["v3.5.24", "v3.6.0", "v3.6.14", "v3.7.0", "v3.7.1"]

# Where each Kubernetes component registers its flags in the staging repositories: (repo, path,
# function, parameters, first minor, first minor without it). `function` is `Type.Method` or a
# plain function name; `parameters` gives the values a parameter used in a flag name takes.
# The wiring (which options a component adds) follows each component's options.go in
# kubernetes/kubernetes (cmd/<component>/app/options, pkg/controlplane/apiserver/options).
APISERVER = "kubernetes/apiserver"
BASE = "kubernetes/component-base"
CM = "kubernetes/controller-manager"
CLOUD = "kubernetes/cloud-provider"
EXTENSIONS = "kubernetes/apiextensions-apiserver"
CLIENT = "kubernetes/client-go"

COMMON = [  # every control-plane component built on component-base
    (BASE, "logs/api/v1/options.go", "addFlags", {}, None, None),
    (BASE, "metrics/options.go", "Options.AddFlags", {}, None, None),
    (BASE, "featuregate/feature_gate.go", "featureGate.AddFlag", {}, None, None),
    (BASE, "compatibility/registry.go", "componentGlobalsRegistry.AddFlags", {}, None, None),
    (BASE, "cli/globalflag/globalflags.go", "AddGlobalFlags", {}, None, None),
    (BASE, "version/verflag/verflag.go", "AddFlags", {}, None, None),
]
DELEGATED = [  # kube-controller-manager and kube-scheduler serve with delegated authn/authz
    (APISERVER, "pkg/server/options/serving.go", "SecureServingOptions.AddFlags", {}, None, None),
    (APISERVER, "pkg/server/options/authentication.go", "DelegatingAuthenticationOptions.AddFlags", {}, None, None),
    # DelegatingAuthenticationOptions.AddFlags calls these two
    (APISERVER, "pkg/server/options/authentication.go", "RequestHeaderAuthenticationOptions.AddFlags", {}, None, None),
    (APISERVER, "pkg/server/options/authentication.go", "ClientCertAuthenticationOptions.AddFlags", {}, None, None),
    (APISERVER, "pkg/server/options/authorization.go", "DelegatingAuthorizationOptions.AddFlags", {}, None, None),
    (BASE, "config/options/leaderelectionconfig.go", "BindLeaderElectionFlags", {}, None, None),
]
PLUGINS = {"pluginName": ["log", "webhook"]}
WIRING = {
    "kube-apiserver": COMMON + [
        (APISERVER, "pkg/server/options/serving.go", "SecureServingOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/etcd.go", "EtcdOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/audit.go", "AuditOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/audit.go", "AuditLogOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/audit.go", "AuditWebhookOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/audit.go", "AuditBatchOptions.AddFlags", PLUGINS, None, None),
        (APISERVER, "pkg/server/options/audit.go", "AuditTruncateOptions.AddFlags", PLUGINS, None, None),
        (APISERVER, "pkg/server/options/authentication.go", "RequestHeaderAuthenticationOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/authentication.go", "ClientCertAuthenticationOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/admission.go", "AdmissionOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/api_enablement.go", "APIEnablementOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/egress_selector.go", "EgressSelectorOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/feature.go", "FeatureOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/tracing.go", "TracingOptions.AddFlags", {}, None, None),
        (APISERVER, "pkg/server/options/server_run_options.go", "ServerRunOptions.AddUniversalFlags", {}, None, None),
    ],
    "kube-controller-manager": COMMON + DELEGATED + [
        (CM, "options/generic.go", "GenericControllerManagerConfigurationOptions.AddFlags", {}, None, None),
        (CM, "options/debugging.go", "DebuggingOptions.AddFlags", {}, None, None),
        (CM, "pkg/leadermigration/options/options.go", "LeaderMigrationOptions.AddFlags", {}, None, None),
        (CLOUD, "options/kubecloudshared.go", "KubeCloudSharedOptions.AddFlags", {}, None, None),
        (CLOUD, "options/cloudprovider.go", "CloudProviderOptions.AddFlags", {}, None, None),
        # kube-controller-manager stopped adding the service controller options in 1.37
        # (kubernetes/kubernetes#138002, CHANGELOG-1.37: "Removed the --concurrent-service-syncs flag").
        (CLOUD, "options/servicecontroller.go", "ServiceControllerOptions.AddFlags", {}, None, 37),
    ],
    "kube-scheduler": COMMON + DELEGATED,
}

# Where feature gates are declared (`Name featuregate.Feature = "Name"`; client-go: `Name Feature =
# "Name"`), per staging repository. kubernetes/kubernetes pkg/features adds the client-go gates to
# the components' gate set (`clientfeatures.AddFeaturesToExistingFeatureGates`); the apiextensions
# gates are registered in kube-apiserver. kcompile keeps one gate table for every component.
GATE_FILES = [
    (APISERVER, "pkg/features/kube_features.go"),
    (EXTENSIONS, "pkg/features/kube_features.go"),
    (CLIENT, "features/known_features.go"),
    (BASE, "logs/api/v1/kube_features.go"),
    (BASE, "metrics/features/kube_features.go"),
    (BASE, "zpages/features/kube_features.go"),
    (CM, "pkg/features/kube_features.go"),
]

TYPES = ["Bool", "String", "Int", "Int8", "Int16", "Int32", "Int64", "Uint", "Uint8", "Uint16",
         "Uint32", "Uint64", "Float32", "Float64", "Duration", "StringSlice", "StringArray",
         "IntSlice", "Int32Slice", "Int64Slice", "UintSlice", "Float32Slice", "Float64Slice",
         "DurationSlice", "BoolSlice", "StringToString", "StringToInt", "StringToInt64", "IP",
         "IPMask", "IPNet", "IPSlice", "BytesHex", "BytesBase64", "Count", "Func", "BoolFunc",
         "TextVar"]
METHODS = {}
for t in TYPES:
    METHODS[t] = 0
    METHODS[t + "P"] = 0
    METHODS[t + "Var"] = 1
    METHODS[t + "VarP"] = 1
METHODS["Var"] = 1
METHODS["VarP"] = 1
METHODS["TextVar"] = 1
CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\.(%s)\(" % "|".join(sorted(METHODS, key=len, reverse=True)))
# etcd's feature gate registers through `AddFlag(fs, ServerFeatureGateFlagName)`.
ADD_FLAG = re.compile(r"\.AddFlag\(\s*[A-Za-z_][A-Za-z0-9_]*\s*,")
# component-base verflag adds a global flag: `fs.AddFlag(flag.Lookup(versionFlagName))`.
ADD_LOOKUP = re.compile(r"\.AddFlag\(\s*(?:\w+\.)?Lookup\(")
FLAG_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


class Mirror:
    def __init__(self, root, repo):
        owner, name = repo.split("/")
        for candidate in (os.path.join(root, f"{owner}+{name}", "repo"), os.path.join(root, owner, name + ".git")):
            if os.path.isdir(candidate):
                self.dir = candidate
                break
        else:
            sys.exit(f"no mirror of {repo} under {root}")
        self.repo = repo
        self.cache = {}

    def git(self, *args):
        return subprocess.run(["git", "-C", self.dir, *args], check=True, capture_output=True, text=True).stdout

    def tags(self):
        return self.git("tag", "-l").split()

    def commit(self, tag):
        return self.git("rev-list", "-n", "1", tag).strip()

    def show(self, tag, path):
        key = (tag, path)
        if key not in self.cache:
            try:
                self.cache[key] = self.git("show", f"{tag}:{path}")
            except subprocess.CalledProcessError:
                self.cache[key] = None
        return self.cache[key]

    def constant(self, tag, name):
        """The string value of Go constant `name` anywhere in the repository at `tag`."""
        key = (tag, "const", name)
        if key not in self.cache:
            try:
                out = self.git("grep", "-h", "-E", rf"^\s*(const\s+)?{re.escape(name)}(\s+string)?\s*=\s*\"", tag, "--", "*.go", ":!*_test.go")
            except subprocess.CalledProcessError:
                out = ""
            values = sorted({m.group(1) for m in re.finditer(r'=\s*"([^"]*)"', out)})
            self.cache[key] = values[0] if len(values) == 1 else None
        return self.cache[key]


def newest_tag(tags, prefix):
    """The newest release tag starting with `prefix` (`v0.36.`); a pre-release only if no release."""
    def key(tag):
        core, _, pre = tag[1:].partition("-")
        return (tuple(int(p) for p in core.split(".")), pre == "", pre)
    found = [t for t in tags if t.startswith(prefix) and re.fullmatch(r"v\d+\.\d+\.\d+(-[a-z]+\.\d+)?", t)]
    return max(found, key=key) if found else None


def function_body(text, function):
    """(first line number, lines) of `function` (`Type.Method` or a name); None if absent."""
    if "." in function:
        typ, name = function.split(".")
        start = re.compile(rf"^func \(\s*\w*\s*\*?{re.escape(typ)}\) {re.escape(name)}\(")
    else:
        start = re.compile(rf"^func {re.escape(function)}\(")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if start.match(line):
            for j in range(i + 1, len(lines)):
                if lines[j] == "}":
                    return i + 1, lines[i:j + 1]
    return None


def call_arguments(text, at):
    """The top-level arguments of the call whose '(' is at `at`, each with its offset."""
    depth, args, current, start, i = 0, [], [], at + 1, at
    while i < len(text):
        c = text[i]
        if c in "\"`'":
            end = text.index(c, i + 1) if c == "`" else i + 1
            if c != "`":
                while text[end] != c:
                    end += 2 if text[end] == "\\" else 1
            current.append(text[i:end + 1])
            i = end + 1
            continue
        if c in "([{":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(("".join(current).strip(), start))
                return args
        elif c == "," and depth == 1:
            args.append(("".join(current).strip(), start))
            current, start = [], i + 1
            i += 1
            continue
        if depth >= 1:
            current.append(c)
        i += 1
    return args


def names_of(argument, mirror, tag, params):
    """The flag names an argument expression stands for."""
    literal = re.fullmatch(r'"([^"\\]*)"', argument)
    if literal:
        return [literal.group(1)]
    sprintf = re.fullmatch(r'fmt\.Sprintf\(\s*"([^"]*)"\s*,\s*([A-Za-z_]\w*)\s*\)', argument)
    if sprintf and sprintf.group(2) in params:
        return [sprintf.group(1).replace("%s", value) for value in params[sprintf.group(2)]]
    ident = re.fullmatch(r"(?:[A-Za-z_]\w*\.)?([A-Za-z_]\w*)", argument)
    if ident:
        value = mirror.constant(tag, ident.group(1))
        if value is not None:
            return [value]
    return None


def flags_in(mirror, tag, path, function, params, unresolved):
    """[(name, line)] registered in `function` of `path` at `tag`."""
    text = mirror.show(tag, path)
    if text is None:
        return None
    if function is None:
        first, lines = 1, text.split("\n")
    else:
        found = function_body(text, function)
        if found is None:
            return None
        first, lines = found
    body = "\n".join("" if l.lstrip().startswith("//") else l for l in lines)
    found = []
    calls = [(m.start(), m.end() - 1, METHODS[m.group(2)]) for m in CALL.finditer(body)]
    calls += [(m.start(), m.start() + len(".AddFlag"), 1) for m in ADD_FLAG.finditer(body)]
    calls += [(m.start(), m.end() - 1, 0) for m in ADD_LOOKUP.finditer(body)]
    for begin, paren, index in calls:
        args = call_arguments(body, paren)
        if len(args) <= index:
            continue
        argument, offset = args[index]
        names = names_of(argument, mirror, tag, params)
        line = first + body.count("\n", 0, offset + (len(body[offset:]) - len(body[offset:].lstrip())))
        if names is None:
            if argument.startswith('"') or re.match(r"^[A-Za-z_][\w.]*$|^fmt\.Sprintf", argument):
                unresolved.append(f"{mirror.repo}@{tag} {path}:{line}: name `{argument}` not resolved")
            continue
        for name in names:
            if FLAG_NAME.match(name):
                found.append((name, line))
    return found


def etcd_ignored(mirror, tag, unresolved):
    """Flags etcd still registers and ignores (`cfg.ignored`, registered as IgnoredFlag)."""
    path = "server/etcdmain/config.go"
    text = mirror.show(tag, path)
    match = re.search(r"\bignored\s*=\s*\[\]string\{", text)
    if not match:
        unresolved.append(f"{mirror.repo}@{tag} {path}: no ignored list")
        return []
    out = []
    end = text.index("}", match.end())
    for lit in re.finditer(r'"([^"]+)"', text[match.end():end]):
        out.append((lit.group(1), text.count("\n", 0, match.end() + lit.start()) + 1))
    return out


def rows_for(mirror, tag, release, path, found):
    commit = mirror.commit(tag)
    return [(release, name, mirror.repo, tag, commit, path, line) for name, line in found]


def etcd_rows(mirrors, unresolved):
    mirror = mirrors["etcd-io/etcd"]
    rows = []
    for tag in ETCD_TAGS:
        release = tag[1:]
        sources = [("server/etcdmain/config.go", "newConfig")]
        if mirror.show(tag, "server/embed/config.go") and function_body(mirror.show(tag, "server/embed/config.go"), "Config.AddFlags"):
            sources.append(("server/embed/config.go", "Config.AddFlags"))
        for path, function in sources:
            found = flags_in(mirror, tag, path, function, {}, unresolved)
            if found is None:
                sys.exit(f"etcd {tag}: {path} {function} not found")
            rows += rows_for(mirror, tag, release, path, found)
        ignored = etcd_ignored(mirror, tag, unresolved)
        if ignored:  # the loop `for _, f := range cfg.ignored` registers these
            unresolved[:] = [u for u in unresolved if not (f"@{tag} " in u and "name `f`" in u)]
        rows += rows_for(mirror, tag, release, "server/etcdmain/config.go", ignored)
    return rows


def kube_rows(mirrors, component, unresolved):
    rows = []
    for minor in KUBE_MINORS:
        release = f"1.{minor}"
        for repo, path, function, params, since, until in WIRING[component]:
            if (since and minor < since) or (until and minor >= until):
                continue
            mirror = mirrors[repo]
            tag = newest_tag(mirror.tags(), f"v0.{minor}.")
            if tag is None:
                sys.exit(f"{repo} has no v0.{minor} tag")
            found = flags_in(mirror, tag, path, function, params, unresolved)
            if found is None:
                unresolved.append(f"{repo}@{tag}: {path} {function} absent (nothing registered)")
                continue
            rows += rows_for(mirror, tag, release, path, found)
    return rows


GATE = re.compile(r'^\s*([A-Z]\w*)\s+(?:featuregate\.)?Feature\s*=\s*"([A-Za-z0-9]+)"')


def gate_rows(mirrors):
    rows = []
    for minor in KUBE_MINORS:
        release = f"1.{minor}"
        for repo, path in GATE_FILES:
            mirror = mirrors[repo]
            tag = newest_tag(mirror.tags(), f"v0.{minor}.")
            text = mirror.show(tag, path)
            if text is None:
                continue
            found = [(m.group(2), n + 1) for n, line in enumerate(text.split("\n")) if (m := GATE.match(line))]
            rows += rows_for(mirror, tag, release, path, found)
    # AllAlpha and AllBeta are gates of every feature gate set (component-base featuregate).
    mirror = mirrors[BASE]
    for minor in KUBE_MINORS:
        tag = newest_tag(mirror.tags(), f"v0.{minor}.")
        text = mirror.show(tag, "featuregate/feature_gate.go")
        found = [(m.group(1), n + 1) for n, line in enumerate(text.split("\n"))
                 if (m := re.match(r'^\s*all(?:Alpha|Beta)Gate\s+Feature\s*=\s*"(\w+)"', line))]
        rows += rows_for(mirror, tag, f"1.{minor}", "featuregate/feature_gate.go", found)
    return rows


HEADER = """# {what}
# Generated by scripts/upstream_flags.py from tagged upstream source; do not edit (see README.md).
# release<TAB>name<TAB>repo<TAB>tag<TAB>commit<TAB>path<TAB>line
"""


def render(what, rows):
    seen = set()
    out = [HEADER.format(what=what)]
    def order(row):
        return (tuple(int(p) for p in row[0].split(".")), row[1], row[2], row[5], row[6])
    for row in sorted(rows, key=order):
        key = (row[0], row[1])
        if key in seen:
            continue  # the first registration site is cited
        seen.add(key)
        out.append("\t".join(str(c) for c in row) + "\n")
    return "".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirrors", required=True)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "src", "versions", "upstream"))
    parser.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    args = parser.parse_args()
    mirrors = {repo: Mirror(args.mirrors, repo) for repo in ["etcd-io/etcd", APISERVER, BASE, CM, CLOUD, EXTENSIONS, CLIENT]}
    unresolved = []
    outputs = {
        "etcd.tsv": render("etcd server flags per etcd release", etcd_rows(mirrors, unresolved)),
        "feature-gates.tsv": render("Kubernetes feature gates declared in the staging repositories, per Kubernetes minor", gate_rows(mirrors)),
    }
    for component in WIRING:
        outputs[f"{component}.tsv"] = render(f"{component} flags registered by the staging repositories, per Kubernetes minor", kube_rows(mirrors, component, unresolved))
    # The flags and gates only kubernetes/kubernetes registers: their removals, from the saved
    # release-note reads (scripts/kk_changelog.py; no mirror needed).
    with open(kk_changelog.READS, encoding="utf-8") as f:
        outputs["kk-removals.tsv"], problems = kk_changelog.render(f.read())
    if problems:
        sys.exit("\n".join(f"error: {problem}" for problem in problems))
    for line in unresolved:
        print(f"note: {line}", file=sys.stderr)
    stale = []
    for name, text in sorted(outputs.items()):
        path = os.path.join(args.out, name)
        if args.check:
            try:
                with open(path) as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        else:
            os.makedirs(args.out, exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    if stale:
        sys.exit("out of date: " + ", ".join(stale))


if __name__ == "__main__":
    main()
