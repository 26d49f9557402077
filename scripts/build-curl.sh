#!/usr/bin/env bash
# Builds the minimal static libcurl that hakit_http links (see docs/benchmarks.md, "check_http_200"):
# Debian's own curl source (apt-get source, Debian patches applied), configured with only
# HTTP/HTTPS and SMTP/SMTPS (the notify tools send mail), the threaded resolver, OpenSSL
# linked statically, and nothing else (no LDAP, RTMP, SSH, PSL, IDN, GSSAPI, brotli, zstd,
# nghttp2, zlib). Debian's shared libcurl pulls ~33 shared libraries and costs ~7 ms at every
# process start; this one costs none, and check_http_200 runs every second or two.
#
#   scripts/build-curl.sh [PREFIX]     default PREFIX: <repo>/third_party/curl
#
# Idempotent: when PREFIX holds a build made with this very script, it does nothing. Safe to
# run concurrently (a lock serializes builds). Called by common/http/CMakeLists.txt at
# configure time. Needs root only when the deb-src entry is missing (it adds one).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${1:-$ROOT/third_party/curl}
SELF="$ROOT/scripts/build-curl.sh"
# The stamp is the hash of this script: any change to the recipe rebuilds.
STAMP=$(sha256sum "$SELF" | cut -c1-16)

built() { [ -f "$PREFIX/lib/libcurl.a" ] && [ "$(cat "$PREFIX/.stamp" 2>/dev/null)" = "$STAMP" ]; }
if built; then exit 0; fi

mkdir -p "$PREFIX"
exec 9>"$PREFIX.lock"
flock 9
if built; then exit 0; fi  # another build finished while we waited for the lock

log() { echo "build-curl: $*" >&2; }
WORK="$PREFIX.work"
rm -rf "$WORK"
mkdir -p "$WORK"

# 1. Debian's curl source. apt-get source needs a deb-src entry; add one for the suites the
# machine already uses (bookworm and its updates/security) when there is none.
have_debsrc() { apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -q '^Sources$'; }
if ! have_debsrc; then
  if [ "$(id -u)" != 0 ]; then
    log "no deb-src entry in the apt sources and not root: run as root once, or add one"
    exit 1
  fi
  log "adding /etc/apt/sources.list.d/hakit-deb-src.sources"
  cat >/etc/apt/sources.list.d/hakit-deb-src.sources <<'SRC'
# Added by hakit scripts/build-curl.sh: Debian's curl source for the minimal static libcurl.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -q >/dev/null
fi
command -v dpkg-source >/dev/null || { log "dpkg-source missing: apt-get install dpkg-dev"; exit 1; }
log "fetching Debian's curl source"
(cd "$WORK" && apt-get source -q curl >/dev/null 2>"$WORK/apt-source.log") || {
  cat "$WORK/apt-source.log" >&2; exit 1; }
SRCDIR=$(find "$WORK" -maxdepth 1 -type d -name 'curl-*' | head -1)
[ -n "$SRCDIR" ] && [ -x "$SRCDIR/configure" ] || { log "no configure script in $WORK"; exit 1; }

# 2. One patch: libcurl's global init runs OPENSSL_init_ssl() at once (engines, all ciphers and
# digests, error strings: ~1.5 M instructions, 40% of a plain-http check, plus their cleanup at
# exit). Fix only the no-config choice now and let OpenSSL initialize the rest itself on the
# first TLS connection, so an http:// check never pays for TLS and an https:// one pays once.
OSSL="$SRCDIR/lib/vtls/openssl.c"
grep -q '^  OPENSSL_init_ssl(flags, NULL);$' "$OSSL" || {
  log "unexpected curl source: no 'OPENSSL_init_ssl(flags, NULL);' in $OSSL (update the patch)"
  exit 1
}
sed -i 's|^  OPENSSL_init_ssl(flags, NULL);$|  (void)flags; /* hakit: lazy OpenSSL init, see scripts/build-curl.sh */\n  OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);|' "$OSSL"

# 3. Configure: HTTP(S) and SMTP(S) only. The CA bundle paths are Debian's.
log "configuring $(basename "$SRCDIR") (log: $WORK/configure.log)"
cd "$SRCDIR"
CFLAGS="-O2 -g0 -fPIC -ffunction-sections -fdata-sections" \
./configure --prefix="$PREFIX" --disable-shared --enable-static --with-pic \
  --with-openssl --disable-openssl-auto-load-config \
  --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs \
  --enable-http --enable-smtp --enable-proxy --enable-threaded-resolver --disable-ares \
  --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
  --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-gopher \
  --disable-mqtt --disable-manual --disable-alt-svc --disable-hsts --disable-cookies \
  --disable-netrc --disable-ntlm --disable-ntlm-wb --disable-kerberos-auth \
  --disable-negotiate-auth --disable-aws --disable-doh --disable-dateparse \
  --without-zlib --without-brotli --without-zstd --without-libpsl --without-libidn2 \
  --without-nghttp2 --without-ngtcp2 --without-nghttp3 --without-quiche --without-libssh2 \
  --without-libssh --without-librtmp --without-gssapi --without-libgsasl --without-hyper \
  >"$WORK/configure.log" 2>&1 || { tail -30 "$WORK/configure.log" >&2; exit 1; }

# 4. Build and install the library and headers only (the curl tool is not needed).
log "building libcurl.a"
make -j"${HAKIT_CURL_JOBS:-2}" -C lib >"$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log" >&2; exit 1; }
rm -rf "$PREFIX/lib" "$PREFIX/include"
make -C lib install >>"$WORK/make.log" 2>&1
make -C include install >>"$WORK/make.log" 2>&1
grep -E '^  (Protocols|SSL|Resolver|Features):' "$WORK/configure.log" >"$PREFIX/features.txt" || true
# Keep the logs next to the result; drop the source tree.
cp "$WORK"/*.log "$PREFIX/" 2>/dev/null || true
cd "$ROOT"
rm -rf "$WORK"
echo "$STAMP" >"$PREFIX/.stamp"
log "installed $PREFIX/lib/libcurl.a"
