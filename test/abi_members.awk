# Print "struct offset member type" for every data member of the named
# structs in an abidw XML dump; type names are resolved through pointers,
# qualifiers and arrays so that two dumps (whose type ids differ) compare.
# Usage: awk -v structs="tasd_stats tasd_view" -f test/abi_members.awk FILE
function attr(line, key,    m) {
    if (match(line, " " key "='[^']*'")) {
        m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 4)
        return m
    }
    return ""
}
function resolve(id, depth) {
    if (depth > 8 || !(id in kind)) return "?"
    if (kind[id] == "named") return tname[id]
    return kind[id] "(" resolve(target[id], depth + 1) ")" extra[id]
}
BEGIN { n = split(structs, s, " "); for (i = 1; i <= n; i++) want[s[i]] = 1 }
{
    id = attr($0, "id")
    if (id != "") {
        if ($0 ~ /<(pointer-type-def|qualified-type-def|array-type-def|reference-type-def)/) {
            kind[id] = $1; sub(/^</, "", kind[id])
            target[id] = attr($0, "type-id")
            extra[id] = attr($0, "size-in-bits") attr($0, "const") attr($0, "volatile")
        } else if ($0 ~ /<function-type/) {
            kind[id] = "named"; tname[id] = "function"
        } else if (attr($0, "name") != "") {
            kind[id] = "named"; tname[id] = attr($0, "name")
        }
    }
    if ($0 ~ /<class-decl / && attr($0, "is-declaration-only") == "") cur = attr($0, "name")
    else if ($0 ~ /<\/class-decl>/) cur = ""
    if (cur != "" && (cur in want)) {
        if ($0 ~ /<data-member/) off = attr($0, "layout-offset-in-bits")
        if ($0 ~ /<var-decl/) { nm++; ms[nm] = cur; mo[nm] = off; mn[nm] = attr($0, "name"); mt[nm] = attr($0, "type-id") }
    }
}
END { for (i = 1; i <= nm; i++) print ms[i], mo[i], mn[i], resolve(mt[i], 0) }
