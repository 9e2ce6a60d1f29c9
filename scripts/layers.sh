#!/usr/bin/env bash
# Checks the layering of docs/ARCHITECTURE.md ("Layers"): a module may use
# only modules listed below it in its layer list (a module may use itself),
# and only src/store/ may name sled. Exits 1 and prints each violation.
#
# A use is any `crate::NAME` outside a `//` comment. NAME is a module, or an
# item the crate root re-exports (`pub use MODULE::…NAME…`), which counts as
# a use of MODULE; a NAME that is neither is reported.
set -euo pipefail
cd "$(dirname "$0")/.."

doc=docs/ARCHITECTURE.md
status=0

# Prints the layer list of the fenced block opened by "```layers ROOT", one
# line per layer, top first.
layers_of() {
    awk -v want="$1" '
        $0 == "```layers " want { on = 1; next }
        on && /^```/ { exit }
        on && NF { print }
    ' "$doc"
}

# The module a `crate::NAME` in crate ROOT_FILE denotes.
module_of() {
    local name=$1 root_file=$2 modules=$3
    if grep -qx -- "$name" <<<"$modules"; then
        echo "$name"
        return
    fi
    # Re-exports, one statement per line.
    tr '\n' ' ' <"$root_file" | tr ';' '\n' |
        grep -E '^\s*pub use [a-z_]+::' |
        grep -E "[^A-Za-z0-9_]$name([^A-Za-z0-9_]|$)" |
        sed -E 's/^\s*pub use ([a-z_]+)::.*/\1/' | head -n1 || true
}

check_root() {
    local root=$1 root_file=$2 exclude=${3:-}
    local layers modules
    layers=$(layers_of "$root")
    if [[ -z $layers ]]; then
        echo "no \`\`\`layers $root block in $doc"
        status=1
        return
    fi
    modules=$(tr ' ' '\n' <<<"$layers" | grep -v '^$')
    declare -A rank=()
    local i=0 m
    while read -r line; do
        for m in $line; do rank[$m]=$i; done
        i=$((i + 1))
    done <<<"$layers"

    local file rel mod name target
    while IFS= read -r file; do
        [[ $file == "$root_file" ]] && continue
        [[ -n $exclude && $file == "$exclude"/* ]] && continue
        rel=${file#"$root"/}
        mod=${rel%%/*}
        mod=${mod%.rs}
        if [[ -z ${rank[$mod]+x} ]]; then
            echo "$file: module \`$mod\` is not in the layer list of $root"
            status=1
            continue
        fi
        while IFS=: read -r lineno name; do
            target=$(module_of "$name" "$root_file" "$modules")
            if [[ -z $target ]]; then
                echo "$file:$lineno: crate::$name is neither a module nor a re-export"
                status=1
            elif [[ $target != "$mod" && ${rank[$target]} -le ${rank[$mod]} ]]; then
                echo "$file:$lineno: \`$mod\` uses \`$target\`, which is not below it"
                status=1
            fi
        done < <(sed -E 's://.*$::' "$file" | { grep -noE 'crate::[A-Za-z_][A-Za-z0-9_]*' || true; } |
            sed -E 's/crate:://' | sort -u)
    done < <(find "$root" -name '*.rs' | sort)
}

check_root src src/lib.rs src/bin
check_root src/bin/mmindex src/bin/mmindex/main.rs

# sled outside the store.
while IFS= read -r hit; do
    echo "$hit: sled outside src/store/"
    status=1
done < <(grep -rnE '(^|[^A-Za-z0-9_])sled(::|;| as )' --include='*.rs' src |
    grep -v '^src/store/' | grep -vE '^[^:]+:[0-9]+:\s*//' || true)

if [[ $status -eq 0 ]]; then
    echo "layers: ok ($(find src -name '*.rs' | wc -l) files)"
fi
exit $status
