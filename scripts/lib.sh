# Shared by the scripts: sourced, not run.

# Installs what building Reception needs from Debian's packages, if it is missing:
# libpq's headers (libpq-dev) and pkg-config, which SwiftPM uses to find them.
ensure_build_dependencies() {
    local missing=()
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    pkg-config --exists libpq 2>/dev/null || missing+=(libpq-dev)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing ${missing[*]} with apt-get" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q >&2
    $sudo apt-get install -y -q "${missing[@]}" >&2
}

# Puts swift on the PATH when it is installed at /opt/swift but not on the PATH yet.
ensure_swift() {
    command -v swift >/dev/null 2>&1 && return 0
    if [ -x /opt/swift/usr/bin/swift ]; then
        export PATH=/opt/swift/usr/bin:$PATH
        return 0
    fi
    echo "setup: error: swift is not installed (expected on the PATH or at /opt/swift)" >&2
    exit 1
}
