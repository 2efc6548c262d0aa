"""`texture-sorter keys`: make your signing key, and choose whose package signatures you trust.

Exit status: 0 done, 1 refused (unknown key, unreadable file), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ai.errors import PackageError
from ai.packages.keys import KeyStore, PublicKey, decode_public_key, key_id_of, read_public_key_file
from ai.packages.signing import package_signer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "keys",
        help="signing keys: generate, list, trust, untrust",
        description="generate NAME: make your Ed25519 key for `export-model --sign NAME` (its public half is "
        "trusted here at once; --public-out writes it for others); list: your keys and the trusted ones; "
        "trust FILE|PACKAGE|ed25519:KEY [--name N]: trust a publisher's key (from a public key file, a "
        "package it signed, or the text `keys list` shows); untrust NAME|KEY_ID.",
    )
    p.add_argument("action", choices=("generate", "list", "trust", "untrust"))
    p.add_argument("target", nargs="?", metavar="ARG")
    p.add_argument("--name", help="trust: the name to show for this key")
    p.add_argument("--public-out", metavar="FILE", help="generate: also write the public key here to share it")
    p.add_argument("--json", action="store_true", help="list: JSON output")
    p.set_defaults(func=run)


def _error(message: str, code: int = EXIT_FAILED) -> int:
    print(f"texture-sorter: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    keys = KeyStore()
    if args.action != "list" and not args.target:
        return _error(f"'keys {args.action}' needs an argument (see --help)", EXIT_USAGE)
    try:
        if args.action == "generate":
            return _generate(keys, args)
        if args.action == "list":
            return _list(keys, args.json)
        if args.action == "trust":
            return _trust(keys, args)
        key = keys.untrust(args.target)
        print(f"No longer trusting {key.name} ({key.key_id}); its packages now show as signed by an unknown key.")
        return EXIT_OK
    except PackageError as exc:
        return _error(str(exc))


def _generate(keys: KeyStore, args) -> int:
    key = keys.generate(args.target)
    print(f"Generated {key.name}: key id {key.key_id}")
    print(f"Public key (share it; others trust it with `texture-sorter keys trust`): {key.text}")
    print(f"Sign packages with: texture-sorter export-model MODEL.onnx --out FILE --sign {key.key_id} …")
    if args.public_out:
        Path(args.public_out).write_text(json.dumps(key.public_file(), indent=2) + "\n", encoding="utf-8")
        print(f"Wrote the public key to {args.public_out}")
    return EXIT_OK


def _list(keys: KeyStore, as_json: bool) -> int:
    own, trusted = keys.own(), keys.trusted()
    if as_json:
        print(json.dumps({"own": [k.to_json() for k in own], "trusted": [k.to_json() for k in trusted]}, indent=2))
        return EXIT_OK
    print("Your keys:" if own else "Your keys: none (texture-sorter keys generate NAME)")
    for key in own:
        print(f"  {key.name}  {key.key_id}  {key.text}")
    print("Trusted keys:" if trusted else "Trusted keys: none")
    for key in trusted:
        print(f"  {key.name}  {key.key_id}  added {key.added[:10]}")
    print(f"(kept in {keys.root}, readable only by you)")
    return EXIT_OK


def _trust(keys: KeyStore, args) -> int:
    source = args.target
    path = Path(source)
    if source.startswith("ed25519:"):
        if not args.name:
            return _error("trusting a key given as text needs --name NAME", EXIT_USAGE)
        raw = decode_public_key(source)
        key = PublicKey(key_id_of(raw), args.name, raw)
    elif path.suffix.lower() == ".ps2model":
        if not path.is_file():
            return _error(f"{source}: file not found", EXIT_USAGE)
        key = package_signer(path)
    elif path.is_file():
        key = read_public_key_file(path)
    else:
        return _error(f"{source}: not a file, a .ps2model package or an ed25519:… key", EXIT_USAGE)
    trusted = keys.trust(key, args.name)
    print(f"Trusting {trusted.name} ({trusted.key_id}): packages it signed show as 'signed by {trusted.name} (trusted)'.")
    return EXIT_OK
