#!/usr/bin/env bash
# Builds the cairnd container image (deploy/container/Containerfile) with
# podman, on a Debian 12 host as root, from a local Debian 12 base image made
# with debootstrap (no container registry needed: only the Debian mirror).
#
# Usage: deploy/container/build-image.sh [options] [-- podman-build-args...]
#   --tag NAME       image name (default localhost/cairn:VERSION, also tagged
#                    localhost/cairn:latest); VERSION is the CMake project's
#   --base IMAGE     build on IMAGE (any Debian 12, e.g.
#                    docker.io/library/debian:bookworm-slim) instead of the
#                    local debootstrap base
#   --rebuild-base   make the local base again even if it exists
#
# Environment:
#   BUILD_JOBS         compile jobs in the build stage (default 2)
#   CAIRN_BUILD_LOCK   file locked with flock(1) around `podman build`, which
#                      uses every core it is given (default
#                      /tmp/cairn-build.lock; empty: no lock)
#   PODMAN_ISOLATION   isolation of the build's RUN steps (default chroot, see
#                      below)
#   DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR   where the base gets its packages
#                      (default http://deb.debian.org/debian[-security])
#
# The local base, localhost/cairn-debian:bookworm, is `debootstrap
# --variant=minbase bookworm` trimmed like Debian's slim images (no docs, man
# pages or locales; apt lists removed) with bookworm, bookworm-updates and
# bookworm-security as sources. It is made only when missing (--rebuild-base
# refreshes it). podman caches the build's layers: a second run with unchanged
# sources takes seconds, one after a source change recompiles (the build stage
# is also tagged localhost/cairn-build:latest to keep its layers); the layers
# no tag uses any more are removed after each build.
#
# Choices for podman (4.3 on Debian 12):
#   --isolation=chroot  RUN steps in a chroot, not an OCI runtime container:
#                       crun cannot create containers on hosts whose cgroups
#                       are in hybrid v1/v2 mode ("cgroups in hybrid mode not
#                       supported"), as on the machine this was written on,
#                       and the steps need no isolation (they use the host's
#                       network to reach the Debian mirror). Set
#                       PODMAN_ISOLATION=oci where containers can run.
#   --format docker     the OCI image format has no HEALTHCHECK; podman drops
#                       it with a warning unless the Docker format is used.
#   storage             podman's default (overlay as root).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
base_local=localhost/cairn-debian:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
lock=${CAIRN_BUILD_LOCK-/tmp/cairn-build.lock}
isolation=${PODMAN_ISOLATION:-chroot}
jobs=${BUILD_JOBS:-2}

tag=""
base=""
rebuild_base=0
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --base) base=$2; shift 2 ;;
    --base=*) base=${1#*=}; shift ;;
    --rebuild-base) rebuild_base=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "build-image: $*" >&2; }

version=$(sed -n 's/^project(cairn VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
if [[ -z "$version" ]]; then
  log "no project(cairn VERSION ...) in CMakeLists.txt"
  exit 1
fi
[[ -n "$tag" ]] || tag=localhost/cairn:$version

# podman, and debootstrap for the local base; installed when missing.
need=(podman)
[[ -n "$base" ]] || need+=(debootstrap)
missing=()
for p in "${need[@]}"; do
  command -v "$p" >/dev/null 2>&1 || [[ -x /usr/sbin/$p ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing ${missing[*]}; run as root to install them"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi

make_local_base() {
  if [[ $(id -u) -ne 0 ]]; then
    log "the local base image needs root (debootstrap); or use --base IMAGE"
    exit 1
  fi
  local dir
  dir=$(mktemp -d /var/tmp/cairn-debootstrap.XXXXXX)
  trap 'rm -rf "$dir"' EXIT
  log "debootstrap --variant=minbase bookworm from $mirror"
  local t0=$SECONDS
  /usr/sbin/debootstrap --variant=minbase bookworm "$dir/root" "$mirror" \
    >"$dir/debootstrap.log" 2>&1 || {
    tail -20 "$dir/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
  }
  local r=$dir/root
  # Sources like the official images': the release, its updates, security.
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Trimmed like debian:bookworm-slim: packages installed later leave out
  # their docs, man pages and translations too.
  cat >"$r/etc/dpkg/dpkg.cfg.d/excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r"/usr/share/{man,groff,info,lintian,linda,locale}/*
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin \
    "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log "$r"/var/log/apt/*
  : >"$r/etc/machine-id"
  echo localhost >"$r/etc/hostname"
  tar -C "$r" --numeric-owner -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --change 'LABEL org.opencontainers.image.description=debootstrap --variant=minbase bookworm' \
    - "$base_local" >/dev/null
  rm -rf "$dir"
  trap - EXIT
  log "made $base_local in $((SECONDS - t0)) s"
}

if [[ -z "$base" ]]; then
  base=$base_local
  if [[ $rebuild_base -eq 1 ]] || ! podman image exists "$base_local"; then
    make_local_base
  else
    log "using the existing $base_local (--rebuild-base to refresh it)"
  fi
fi

revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
if [[ "$revision" != unknown ]] && [[ -n "$(git -C "$repo" status --porcelain \
    -- CMakeLists.txt CMakePresets.json wal storage proto server client \
       deploy/install-deps.sh deploy/container 2>/dev/null)" ]]; then
  revision=$revision-dirty
fi
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

common=(podman build
  --isolation="$isolation" --format=docker
  -f "$repo/deploy/container/Containerfile"
  --build-arg BASE_IMAGE="$base"
  --build-arg BUILD_JOBS="$jobs"
  --build-arg VERSION="$version"
  --build-arg REVISION="$revision"
  --build-arg CREATED="$created")
# The build stage is tagged too (localhost/cairn-build:latest) so that its
# layers, the compile cache of the next run, survive the pruning below.
build_stage=("${common[@]}" --target build -t localhost/cairn-build:latest
  "${extra[@]}" "$repo")
image=("${common[@]}" -t "$tag")
if [[ "$tag" == localhost/cairn:"$version" ]]; then image+=(-t localhost/cairn:latest); fi
image+=("${extra[@]}" "$repo")

log "building $tag on $base"
t0=$SECONDS
if [[ -n "$lock" ]] && command -v flock >/dev/null 2>&1; then
  exec 9>>"$lock"
  flock 9
fi
# fd 9 (the lock) is not passed on to podman: nothing it leaves running can
# hold the lock.
"${build_stage[@]}" 9>&-
"${image[@]}" 9>&-
exec 9>&-
size=$(podman image inspect --format '{{.Size}}' "$tag")
log "built $tag in $((SECONDS - t0)) s: $((size / 1024 / 1024)) MiB ($size bytes)"

# Layers of earlier builds that no tag uses any more (each source change
# leaves a compile tree of several hundred MB). Only this image's layers
# carry the label; the base and the tagged images stay.
podman image prune -f --filter label=cairn.image.stage >/dev/null
