#!/usr/bin/env python3
"""The demo's helper (scripts/demo.sh calls it; it reuses the integration harness).

  demo.py dovecot --dir DIR [--messages N]
      Starts a private Dovecot POP3 on loopback (state under DIR/dovecot), seeds N sample
      messages for POP user "alice", writes DIR/dovecot.env (shell variables: POP3_PORT,
      POP3S_PORT, POP_CA, POP_USER, POP_PASSWORD_FILE) and runs until SIGTERM/SIGINT, then stops
      Dovecot and exits 0.

  demo.py config --dir DIR --bin POPBRIDGE --imap-port P --imaps-port P [--user NAME]
      Writes DIR/config.yaml for popbridge: IMAP on 127.0.0.1 (STARTTLS and implicit TLS) with a
      certificate from a throwaway CA (DIR/imap-certs/ca.pem is what clients trust), the local
      user's password (env POPBRIDGE_DEMO_PASSWORD) hashed with `popbridge hash-password`, one
      POP account on the demo Dovecot over POP3S with certificate verification.
"""

import argparse
import os
import shlex
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import certs, corpus, dovecot, popbridge  # noqa: E402

POP_USER = "alice"


def _read_env(path):
    values = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key:
                values[key] = shlex.split(value)[0] if value else ""
    return values


def run_dovecot(args):
    root = os.path.abspath(args.dir)
    pop_certs = certs.make_certs(os.path.join(root, "pop-certs"))
    pop_password = os.urandom(9).hex()
    d = dovecot.Dovecot(os.path.join(root, "dovecot"), pop_certs)
    d.add_user(POP_USER, pop_password)

    stop = {"now": False}

    def on_signal(_signo, _frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    d.start()
    try:
        msgs = corpus.Corpus(seed=2024, tag="demo", attachment_sizes=(1 << 20, 3 << 20)).generate(
            args.messages)
        d.deliver_all(POP_USER, msgs)
        secret = os.path.join(root, "pop-password")
        with open(secret, "w") as f:
            f.write(pop_password + "\n")
        os.chmod(secret, 0o600)
        env_tmp = os.path.join(root, "dovecot.env.tmp")
        with open(env_tmp, "w") as f:
            f.write(f"POP3_PORT={d.pop3_port}\nPOP3S_PORT={d.pop3s_port}\n"
                    f"POP_CA={shlex.quote(pop_certs.ca_cert)}\nPOP_USER={POP_USER}\n"
                    f"POP_PASSWORD_FILE={shlex.quote(secret)}\n"
                    f"POP_MESSAGES={len(msgs)}\nDOVECOT_LOG={shlex.quote(d.log_file)}\n")
        os.rename(env_tmp, os.path.join(root, "dovecot.env"))  # appears complete or not at all
        print(f"demo: Dovecot POP3 on 127.0.0.1:{d.pop3_port} (STLS) and "
              f"127.0.0.1:{d.pop3s_port} (TLS), {len(msgs)} messages for {POP_USER}",
              file=sys.stderr, flush=True)
        while not stop["now"]:
            if d.process is None or d.process.poll() is not None:
                print("demo: Dovecot exited unexpectedly:\n" + d.logs(), file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        d.stop()


def write_config(args):
    root = os.path.abspath(args.dir)
    password = os.environ.get("POPBRIDGE_DEMO_PASSWORD")
    if not password:
        print("demo: set POPBRIDGE_DEMO_PASSWORD", file=sys.stderr)
        return 2
    env = _read_env(os.path.join(root, "dovecot.env"))
    imap_certs = certs.make_certs(os.path.join(root, "imap-certs"))
    pb = popbridge.Popbridge(os.path.abspath(args.bin), root, imap_certs, log_level="info")
    pb.config_file = os.path.join(root, "config.yaml")
    pb.imap_port = args.imap_port
    pb.imaps_port = args.imaps_port
    with open(env["POP_PASSWORD_FILE"]) as f:
        pop_password = f.read().strip()
    pb.add_user(args.user, password, [popbridge.Account(
        name="demo-dovecot", host="127.0.0.1", port=int(env["POP3S_PORT"]), tls="implicit",
        username=env["POP_USER"], password=pop_password, ca_file=env["POP_CA"],
        poll_interval="10s", retention="keep")])
    pb.write_config()
    print(pb.config_file)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dovecot")
    d.add_argument("--dir", required=True)
    d.add_argument("--messages", type=int, default=20)
    c = sub.add_parser("config")
    c.add_argument("--dir", required=True)
    c.add_argument("--bin", required=True)
    c.add_argument("--imap-port", type=int, default=1143)
    c.add_argument("--imaps-port", type=int, default=1993)
    c.add_argument("--user", default="alice")
    args = p.parse_args()
    return run_dovecot(args) if args.cmd == "dovecot" else write_config(args)


if __name__ == "__main__":
    sys.exit(main())
