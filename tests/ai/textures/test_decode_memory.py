"""Decompression bombs under the pixel limit: a byte cap per decode, reduced decodes, one shared budget."""

from __future__ import annotations

import threading

import pytest

from ai.errors import TextureError
from ai.textures import DecodeBudget, decode_memory, load_texture
from ai.textures.hashing import pixel_hash
from ai.textures.synth import write_png_bomb


@pytest.fixture(scope="module")
def bomb_2k(tmp_path_factory):
    path = tmp_path_factory.mktemp("bombs") / "grey16.png"
    write_png_bomb(path, 2048)  # 8 MiB once decoded, from a few KB
    return path


def test_a_decode_over_the_byte_cap_is_refused_before_it_allocates(bomb_2k):
    budget = DecodeBudget(1 << 30)
    with decode_memory(budget) as hold, pytest.raises(TextureError) as caught:
        load_texture(bomb_2k, max_bytes=4 << 20, hold=hold)
    assert "too much memory to decode" in caught.value.reason and "grey16.png" in str(caught.value)
    assert budget.peak == 0  # refused before anything was reserved
    assert load_texture(bomb_2k, max_bytes=256 << 20).info.bit_depth == 16


def test_a_16_bit_picture_decodes_reduced_and_its_hash_is_of_the_full_picture(bomb_2k):
    full = load_texture(bomb_2k)
    assert full.pixels.shape == (2048, 2048, 4) and full.pixel_hash is None
    small = load_texture(bomb_2k, min_size=100, pixel_hash=True)
    assert small.pixels.shape == (103, 103, 4)  # reduced by 19 while decoding, never below 100
    assert small.pixel_hash == pixel_hash(full.pixels)
    assert small.info == full.info


def test_decodes_in_many_threads_never_hold_more_than_the_budget(bomb_2k):
    with decode_memory(DecodeBudget(1 << 30)) as hold:
        load_texture(bomb_2k, min_size=64, hold=hold)
        one = hold.held  # the 8 MiB picture, its bands and the result
    budget = DecodeBudget(int(one * 2.5))  # twelve threads, room for two decodes at a time
    results, errors = [], []

    def decode():
        try:
            with decode_memory(budget) as hold:
                texture = load_texture(bomb_2k, min_size=64, pixel_hash=True, hold=hold)
                results.append((hold.held, texture.pixel_hash))
        except Exception as exc:  # reported below: a thread must not swallow a failure
            errors.append(exc)

    threads = [threading.Thread(target=decode) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 12 and len({d for _, d in results}) == 1
    assert {h for h, _ in results} == {one} and one > 8 << 20
    assert one <= budget.peak <= budget.total and budget.used == 0


def test_a_decode_larger_than_the_budget_runs_alone():
    budget = DecodeBudget(10)
    order = []
    small = decode_memory(budget)
    hold = small.__enter__()
    hold.reserve(4)

    def big():
        with decode_memory(budget) as big_hold:
            big_hold.reserve(50)  # over the total: waits until nothing else is held
            order.append(("big", budget.used))

    worker = threading.Thread(target=big)
    worker.start()
    worker.join(0.2)
    order.append(("small done", budget.used))
    small.__exit__(None, None, None)
    worker.join()
    assert order == [("small done", 4), ("big", 50)]
    assert budget.used == 0 and budget.peak == 50


def test_reserving_twice_in_one_decode_is_a_bug_not_a_deadlock():
    with decode_memory(DecodeBudget(100)) as hold:
        hold.reserve(10)
        with pytest.raises(RuntimeError):
            hold.reserve(10)
    assert hold.held == 0
