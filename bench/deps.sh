#!/bin/sh
# Packages the benchmarks need on top of the project's own (scripts/deps.sh): for the pull
# benchmark (bench/pull_bench.py) the two fetchers popbridge is compared with, procmail as
# fetchmail's MDA and Dovecot's POP3 server; for the IMAP benchmark (bench/imap_bench.py)
# Dovecot's IMAP server, its peer; openssl for throwaway certificates. Debian 12; run as root.
# Benchmark-only: nothing here is needed to build or test.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  fetchmail procmail getmail6 dovecot-pop3d dovecot-imapd openssl ca-certificates python3 >/dev/null
# The packaged Dovecot service is never used by the benchmark (it runs its own instance).
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet dovecot 2>/dev/null; then
  systemctl stop dovecot || true
fi
for tool in fetchmail procmail getmail dovecot; do
  command -v "$tool" >/dev/null || { echo "bench/deps.sh: $tool missing after install" >&2; exit 1; }
done
echo "bench/deps.sh: ready: $(fetchmail --version 2>/dev/null | sed -n 's/^This is fetchmail release \([0-9.]*\).*/fetchmail \1/p'), $(getmail --version), dovecot $(dovecot --version | cut -d' ' -f1)"
