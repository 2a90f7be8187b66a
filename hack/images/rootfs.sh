#!/usr/bin/env bash
# Build (once) a Debian root filesystem tarball with debootstrap, cached by suite,
# variant and package list under $READSIDE_CACHE/rootfs/. Prints the tarball path.
#
# Usage: hack/images/rootfs.sh [--cached] <name> <variant> [extra,packages,comma,separated]
#   e.g. hack/images/rootfs.sh base minbase ca-certificates
#   --cached: print the tarball and exit 0 when it is cached, exit 1 (building nothing) when not.
# Env: DEBIAN_MIRROR (default: the first Debian URI of this machine's apt sources).
#      READSIDE_IMAGES_HOST_CA=0 to NOT copy this machine's local CA certificates
#      (/usr/local/share/ca-certificates/*.crt) into the root filesystem. By default they
#      are copied, so that images built here trust what the machine trusts (e.g. a
#      TLS-intercepting egress proxy in front of PyPI / Maven Central).
set -euo pipefail
# shellcheck source=../toolchain/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../toolchain/lib.sh"

cached_only=""
[ "${1:-}" = --cached ] && { cached_only=1; shift; }
name="$1" variant="$2" include="${3:-}"
host_cas=()
if [ "${READSIDE_IMAGES_HOST_CA:-1}" != 0 ]; then
  shopt -s nullglob
  host_cas=(/usr/local/share/ca-certificates/*.crt)
  shopt -u nullglob
fi
key="$( { printf '%s|%s|%s\n' "$DEBIAN_SUITE" "$variant" "$include"; [ ${#host_cas[@]} -eq 0 ] || cat "${host_cas[@]}"; } \
  | sha256sum | cut -c1-12)"
out="$READSIDE_CACHE/rootfs/$DEBIAN_SUITE-$name-$key.tar"
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi
[ -z "$cached_only" ] || exit 1

if [ -z "${DEBIAN_MIRROR:-}" ]; then
  DEBIAN_MIRROR="$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
  [ -n "$DEBIAN_MIRROR" ] || die "cannot find a Debian mirror in the apt sources; set DEBIAN_MIRROR"
fi
command -v debootstrap >/dev/null || {
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

mkdir -p "$(dirname "$out")"
root="$(mktemp -d "$READSIDE_CACHE/rootfs/.build-$name.XXXXXX")"
trap 'umount -R "$root/proc" "$root/sys" "$root/dev" 2>/dev/null || true; rm -rf "$root"' EXIT
log "debootstrap $DEBIAN_SUITE ($variant${include:+, +$include}) from $DEBIAN_MIRROR"
"${NICE[@]}" debootstrap --variant="$variant" ${include:+--include="$include"} \
  "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >&2

# Updates and security sources, so that images built on top get fixes.
security="${DEBIAN_MIRROR%/debian*}/debian-security"
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR $DEBIAN_SUITE main
deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main
deb $security $DEBIAN_SUITE-security main
SOURCES
if [ ${#host_cas[@]} -gt 0 ]; then
  log "adding this machine's local CA certificates: ${host_cas[*]}"
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp "${host_cas[@]}" "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >&2
fi
# Slim the image the way Debian's container images are slimmed.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
DPKG
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* \
  "$root/usr/share/doc/"*/changelog* "$root/usr/share/man/"* "$root/usr/share/info/"*
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
tar --numeric-owner --xattrs -C "$root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
log "root filesystem: $out ($(du -h "$out" | cut -f1))"
echo "$out"
