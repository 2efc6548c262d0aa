"""The Sort dialog on classified fixtures: plan preview, a real copy sort into a temp folder, undo."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from PySide6.QtCore import Qt


def digests(folder) -> dict[str, str]:
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, folder)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def copy_of_fixtures(tmp_path, fixtures_dir):
    import shutil

    source = tmp_path / "dump"
    shutil.copytree(fixtures_dir, source, ignore=shutil.ignore_patterns("*.md", "*.py"))  # textures only
    return source


def open_dialog(window, qtbot, out):
    dialog = window.show_sort_dialog()
    assert dialog is not None
    dialog.form.output.setText(str(out))
    qtbot.waitUntil(lambda: dialog.run_button.isEnabled(), timeout=10_000)
    return dialog


def test_copy_sort_fills_category_folders_and_undo_removes_every_copy(
    window, classify, fixtures_dir, tmp_path, qtbot
):
    source = copy_of_fixtures(tmp_path, fixtures_dir)
    before = digests(source)
    classify(window, source)
    out = tmp_path / "sorted"
    dialog = open_dialog(window, qtbot, out)
    assert dialog.form.copy_radio.isChecked()
    plan = dialog.plan
    assert len(plan.entries) == len(before)
    assert dialog.folders_table.rowCount() == len(plan.counts())
    assert f"Copy {len(before)} files" in dialog.plan_summary.text()

    with qtbot.waitSignal(dialog.sortFinished, timeout=30_000) as sorted_signal:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)

    assert sorted_signal.args == [str(out.resolve()), "copy"]
    assert dialog.summary.counts["copied"] == len(before)
    for entry in plan.entries:
        category_folder = os.path.relpath(os.path.dirname(entry.dest), out.resolve()).split(os.sep)[0]
        assert entry.category.split("/")[0] == category_folder
    copies = {k: v for k, v in digests(out).items() if not k.startswith(".texture-sorter")}
    assert sorted(copies.values()) == sorted(before.values())
    assert digests(source) == before  # a copy sort leaves the source alone
    assert window.undo_sort_action.isEnabled()

    with qtbot.waitSignal(dialog.undoFinished, timeout=30_000):
        qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)

    assert dialog.summary_title.text().startswith(f"Undone: 0 files moved back, {len(before)} copies deleted")
    left = [k for k in digests(out) if not k.startswith(".texture-sorter")]
    assert left == []
    assert digests(source) == before
    dialog.accept()


def test_sort_uses_the_users_corrections(window, classify, fixtures_dir, tmp_path, qtbot, settle):
    source = copy_of_fixtures(tmp_path, fixtures_dir)
    classify(window, source)
    window.results_view.select_proxy_row(0)
    path = window.selected_paths()[0]
    window.correct_selection("sky")
    settle(window)

    dialog = open_dialog(window, qtbot, tmp_path / "out")

    entry = next(e for e in dialog.plan.entries if e.source == os.path.realpath(path))
    assert entry.category == "sky"
    assert os.path.relpath(entry.dest, dialog.plan.out_dir).split(os.sep)[0] == "sky"
    dialog.reject()


def test_low_confidence_goes_to_unsorted_in_the_preview(window, classify, fixtures_dir, tmp_path, qtbot):
    classify(window, fixtures_dir)
    dialog = open_dialog(window, qtbot, tmp_path / "out")
    dialog.form.min_confidence.setValue(100)
    qtbot.waitUntil(
        lambda: dialog.run_button.isEnabled() and dialog.plan.min_confidence == 1.0, timeout=10_000
    )
    assert {e.role for e in dialog.plan.entries} == {"unsorted"}
    assert "below the confidence to _unsorted/" in dialog.plan_summary.text()
    dialog.reject()


def test_undo_last_sort_from_the_file_menu_moves_files_back(
    window, classify, fixtures_dir, tmp_path, qtbot, monkeypatch
):
    from PySide6.QtWidgets import QMessageBox

    source = copy_of_fixtures(tmp_path, fixtures_dir)
    before = digests(source)
    classify(window, source)
    out = tmp_path / "moved"
    dialog = open_dialog(window, qtbot, out)
    dialog.form.move_radio.setChecked(True)
    qtbot.waitUntil(lambda: dialog.run_button.isEnabled() and dialog.plan.mode == "move", timeout=10_000)
    with qtbot.waitSignal(dialog.sortFinished, timeout=30_000):
        dialog.run_sort()
    assert digests(source) == {}  # everything moved out
    with qtbot.waitSignal(window.session.finished, timeout=30_000):
        dialog.accept()  # closing after a move looks at the folder again
    assert window.model.rowCount() == 0

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.session.finished, timeout=30_000):
        window.undo_sort_action.trigger()

    assert digests(source) == before
    assert window.model.rowCount() == len(before)  # the view looked at the folder again


@pytest.mark.parametrize("choice", ["Resume", "Roll Back"])
def test_an_interrupted_sort_found_at_start_up_is_resumed_or_rolled_back(
    window, fixtures_dir, tmp_path, qtbot, monkeypatch, choice
):
    from PySide6.QtWidgets import QMessageBox

    from app.pipeline import classify_folder
    from app.sorting import apply_plan, build_plan, unfinished_sorts
    from app.sorting.journal import list_sorts

    source = copy_of_fixtures(tmp_path, fixtures_dir)
    results = [r for batch in classify_folder([source], window.session.manager) for r in batch]
    out = tmp_path / "out"
    apply_plan(build_plan(results, out, source_root=source))
    journal = list_sorts(str(out))[-1].journal_path
    with open(journal, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    done = [i for i, line in enumerate(lines) if b'"t":"done"' in line]
    # What a sort killed half-way leaves: the first half of its journal and of its copies.
    cut = done[len(done) // 2]
    for line in lines[cut + 1 :]:
        record = json.loads(line)
        if record["t"] == "done":
            os.unlink(record["dst"])
    with open(journal, "wb") as fh:
        fh.writelines(lines[: cut + 1])
    assert unfinished_sorts(str(out))
    window.settings.remember_folder("sort/recent_outputs", str(out))

    def click(box):
        next(b for b in box.buttons() if b.text() == choice).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", click)
    assert window.check_unfinished_sorts() == [str(out)]
    qtbot.waitUntil(lambda: "Interrupted sort handled" in window.status.message.text(), timeout=30_000)

    assert not unfinished_sorts(str(out))
    sorted_files = [k for k in digests(out) if not k.startswith(".texture-sorter")]
    assert len(sorted_files) == (len(results) if choice == "Resume" else 0)


def test_near_duplicates_in_the_preview_although_the_window_classified_without_them(
    window, classify, fixtures_dir, tmp_path, qtbot
):
    from PIL import Image

    source = copy_of_fixtures(tmp_path, fixtures_dir)
    png = sorted(source.rglob("*.png"))[0]
    with Image.open(png) as image:
        image.convert("RGBA").resize((image.width // 2, image.height // 2)).save(source / "smaller_copy.png")
    classify(window, source)
    results = window.session.model.results()
    assert all(r.perceptual_hash is None for r in results if not r.error)  # the learner needs none
    dialog = open_dialog(window, qtbot, tmp_path / "sorted")
    dialog.form.dedupe_combo.setCurrentIndex(dialog.form.dedupe_combo.findData("near"))
    qtbot.waitUntil(lambda: dialog.plan is not None and dialog.plan.dedupe == "near", timeout=30_000)
    members = [sorted(os.path.basename(m) for m in g.members) for g in dialog.plan.groups]
    assert sorted([png.name, "smaller_copy.png"]) in members
    dialog.reject()
