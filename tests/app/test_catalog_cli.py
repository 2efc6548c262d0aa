"""`keys`, `export-model --sign`, `import-model` and `catalog …` from the command line, against a real HTTP server."""

from __future__ import annotations

import json

from app.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_publish_sign_add_install_and_update_from_the_command_line(tmp_path, tiny_model, catalog_server, capsys):
    code, out, _ = run(capsys, "keys", "generate", "Alice", "--public-out", tmp_path / "alice.pub.json")
    assert code == 0 and "key id" in out
    pkg1, pkg2 = tmp_path / "wood-1.0.ps2model", tmp_path / "wood-2.0.ps2model"
    assert run(capsys, "export-model", tiny_model, "--out", pkg1, "--name", "Wood", "--version", "1.0")[0] == 0
    code, out, _ = run(capsys, "export-model", tiny_model, "--out", pkg2, "--name", "Wood", "--version", "2.0",
                       "--sign", "Alice")  # fmt: skip
    assert code == 0 and out.rstrip().endswith("signed by Alice (trusted)")
    code, out, err = run(capsys, "export-model", tiny_model, "--out", tmp_path / "x.ps2model", "--name", "X",
                         "--version", "1", "--sign", "nobody")  # fmt: skip
    assert code == 2 and "no key 'nobody'" in err and not (tmp_path / "x.ps2model").exists()

    code, out, _ = run(capsys, "catalog", "publish", catalog_server.root, pkg1, "--name", "Forum models")
    assert code == 0 and "Listed Wood 1.0" in out
    assert run(capsys, "catalog", "add", catalog_server.url())[1].startswith("Added Forum models")
    code, out, _ = run(capsys, "catalog", "install", "wood")
    assert code == 0 and "Installed Wood 1.0 from Forum models: unsigned." in out

    assert run(capsys, "catalog", "publish", catalog_server.root, pkg2)[0] == 0
    code, out, _ = run(capsys, "catalog", "list", "--refresh")
    assert code == 0
    rows = {line.split()[1]: line for line in out.splitlines()[1:]}
    assert "trusted: Alice" in rows["2.0"] and "update (have 1.0)" in rows["2.0"]
    assert "unsigned" in rows["1.0"] and "installed" in rows["1.0"]
    code, out, _ = run(capsys, "catalog", "updates", "--json")
    assert json.loads(out) == [{"name": "Wood", "installed": "1.0", "available": "2.0", "catalog": catalog_server.url()}]
    code, out, _ = run(capsys, "catalog", "updates", "--install")
    assert code == 0 and "Installed Wood 2.0 from Forum models: signed by Alice (trusted)." in out
    models = json.loads(run(capsys, "models", "--json")[1])
    assert sorted(m["key"] for m in models if not m["builtin"]) == ["wood@1.0", "wood@2.0"]
    assert run(capsys, "catalog", "updates")[1].startswith("Your installed models are up to date.")

    catalog_server.faults["/wood-2.0.ps2model"] = ("status", 503)
    code, _, err = run(capsys, "catalog", "install", "wood@2.0", "--replace")
    assert code == 1 and "the server answered 503" in err
    assert run(capsys, "catalog", "updates", "--auto", "off")[1].strip() == "The daily update check at start-up is off."


def test_import_says_which_of_the_three_trust_states_a_package_is_in(tmp_path, tiny_model, capsys, publisher):
    from ai.packages.signing import sign_package

    unsigned = tmp_path / "u.ps2model"
    signed = tmp_path / "s.ps2model"
    assert run(capsys, "export-model", tiny_model, "--out", unsigned, "--name", "U", "--version", "1")[0] == 0
    assert run(capsys, "export-model", tiny_model, "--out", signed, "--name", "S", "--version", "1")[0] == 0
    sign_package(signed, "Alice Modder", publisher)
    assert "The package is unsigned." in run(capsys, "import-model", unsigned)[1]
    out = run(capsys, "import-model", signed)[1]
    assert "The package is signed by an unknown key (" in out and "'Alice Modder'" in out
    code, out, _ = run(capsys, "keys", "trust", signed, "--name", "Alice (forum)")
    assert code == 0 and "Trusting Alice (forum)" in out
    assert "The package is signed by Alice (forum) (trusted)." in run(capsys, "import-model", signed, "--replace")[1]
    listed = json.loads(run(capsys, "keys", "list", "--json")[1])
    assert [k["name"] for k in listed["trusted"]] == ["Alice (forum)"] and listed["own"] == []
    assert run(capsys, "keys", "untrust", "Alice (forum)")[0] == 0
    assert run(capsys, "keys", "untrust", "Alice (forum)")[0] == 1

    # A signed package whose model was swapped afterwards is refused, and says why.
    import zipfile

    tampered = tmp_path / "t.ps2model"
    with zipfile.ZipFile(signed) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data.replace(b'"S"', b'"T"') if info.filename == "metadata.json" else data)
    code, _, err = run(capsys, "import-model", tampered)
    assert code == 1 and "import refused" in err and "metadata.json was changed after the package was signed" in err


def test_offline_list_uses_the_cached_index_and_says_so(tmp_path, tiny_model, catalog_server, capsys):
    package = tmp_path / "w.ps2model"
    run(capsys, "export-model", tiny_model, "--out", package, "--name", "Wood", "--version", "1.0")
    run(capsys, "catalog", "publish", catalog_server.root, package)
    assert run(capsys, "catalog", "add", catalog_server.url())[0] == 0
    catalog_server.close()
    code, out, err = run(capsys, "catalog", "list", "--refresh", "--timeout", "2")
    assert code == 0 and "Wood" in out
    assert "offline copy from" in err and "cannot connect" in err
    code, _, err = run(capsys, "catalog", "install", "wood", "--timeout", "2")
    assert code == 1 and "cannot connect" in err
