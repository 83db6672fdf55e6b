"""PDQ in numpy against Meta's reference, and PDQ hash lists (export/import) through the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.store import Store
from classifiers.images import pdq, pdq_lists

skdata = pytest.importorskip("skimage.data")


def _sample(name: str) -> np.ndarray:
    a = np.asarray(getattr(skdata, name)())
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def _rings() -> np.ndarray:
    yy, xx = np.mgrid[0:700, 0:1000]
    return ((np.sin(np.hypot(yy - 350, xx - 500) / 9.0) * 0.5 + 0.5) * 255).astype(np.uint8)[..., None].repeat(3, -1)


# Hashes and qualities printed by Meta's C++ PDQ (the `pdqhash` binding, 0.2.8) for these images.
REFERENCE = [
    (
        "noise 128x96",
        lambda: np.random.default_rng(42).integers(0, 256, (96, 128, 3), dtype=np.uint8),
        "fd9b5b521d31d46488f6818fab3d79032c89d6570769fb34856a6265dc3e5114",
        100,
    ),
    ("rings 1000x700", _rings, "e6559a66d7559a66f7558a22f7ff8a22eeab8a22a2289a62d7558a22aaaa9a22", 100),
    ("camera", lambda: _sample("camera"), "dc9c9d3b746978f888f40ce6e5c3f70f7266623e8d989cb99f21f2010841e1c7", 100),
    ("astronaut", lambda: _sample("astronaut"), "2d6b1af3a956c529e79ca3d2526fa834d4196c81cedd04de0a26b855fc99b724", 100),
    ("coffee", lambda: _sample("coffee"), "8c629e779a663698b9a33866c026726c21a679f61eb6e1f8c79ba7e23c8299e0", 100),
    ("chelsea", lambda: _sample("chelsea"), "5feb5321f01da156898e2bf629a5d3438412cdbd23f48942464526315db33ffd", 100),
    ("coins", lambda: _sample("coins"), "8ee552196df86aa552b514e6e505e0319aeb1aaea4a5d935dd4a675a1a56a555", 100),
    ("moon (low quality)", lambda: _sample("moon"), "131645cde366d981e1e371b264d8b25b9e4d13771d8c4f366d946ca57133d0c9", 83),
    ("camera 37x53 crop (tiny)", lambda: _sample("camera")[100:153, 200:237], "9b848977ad631da6bb995376170f62792e067045c51e9c2980d79e1ab1e1bb87", 100),
    ("astronaut 1/3 size", lambda: _sample("astronaut")[::3, ::3], "4d6b1af3ad56d729c79ca3d2506fa83494196c819edd04de0a26b855fc99b724", 100),
]


@pytest.mark.parametrize("name,make,expected,quality", REFERENCE, ids=[r[0] for r in REFERENCE])
def test_pdq_matches_the_reference_bit_for_bit(name, make, expected, quality) -> None:
    h, q = pdq.pdq_hash(make())
    assert pdq.to_hex(h) == expected and q == quality


def test_flat_image_has_zero_quality() -> None:
    # every DCT coefficient is ~0, so the bits are noise: quality 0 tells matchers to ignore it
    assert pdq.pdq_hash(np.full((64, 64, 3), (120, 30, 200), np.uint8))[1] == 0


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "0" * 63, "0" * 65])
def test_from_hex_refuses_anything_but_64_hex_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        pdq.from_hex(bad)


# `pdq-photo-hasher --pdqdih` order (orig, rot90, rot180, rot270, flipx, flipy, flipp, flipm), from the C++ reference
DIHEDRAL = {
    "camera": [
        "dc9c9d3b746978f888f40ce6e5c3f70f7266623e8d989cb99f21f2010841e1c7",
        "cb3d4c3a33c50e63dc3a18c701ccbcd69e31c17c7cd8278ff170723e47c19ce0",
        "c9cd3791a13cd256dda1a64cb0965da52733c8b4d8cd3613caf458ab5d144b6d",
        "be68e6d06692a4c99b6fb26d5499167dcb6c6bde29cd8d25a425d8941294764a",
        "dc9c62c5f4698f0788f4f319edc308f07266dde18d9863469fe10dfe28411f38",
        "89c9c86e213c2daddda159b3b096a25a2733376bd8cdc9ecca74a7545d14b492",
        "cb3db3c533c5f19cdc3ae73801cc43299e313e837cd8d870f1708dc147c1631f",
        "be68996f66905b36896f4d925499e983cb6c942929cd72daa425b76b1294c9b5",
    ],
    "coffee": [
        "8c629e779a663698b9a33866c026726c21a679f61eb6e1f8c79ba7e23c8299e0",
        "ea1d74a51dd6029cec630fd0712cf50218fd0aaaeff5ae831118881beeee1577",
        "c93734ddcb329c36acf612cc947258c674f2d35c4ae34b5292ce0d5c29d7334a",
        "bf485e0f4883a836bb36a57b24795fa84daab000baa0052d444d32b5bbbb3fdd",
        "9c6261889e67c967f9a3c799c9278d9321a786091fb61e07c79b581d7c82661f",
        "8936cb22cb326389acf66d339472272974f22ca34ae3b4ad92cef2a32957c8b5",
        "ea1d03581dd67d63ec63d02e712c08dd18ffe555eff55078111867e0eeee4808",
        "ba48a1f0488357c9b9365a842479a0574daa4fffbaa0fad6444ddd4ebbbbc022",
    ],
}


@pytest.mark.parametrize("name", list(DIHEDRAL))
def test_dihedral_hashes_match_the_reference(name: str) -> None:
    a = _sample(name)
    hashes, quality = pdq.dihedral_hashes(a)
    assert [n for n, _ in hashes] == ["orig", "rot90", "rot180", "rot270", "flipx", "flipy", "flipp", "flipm"]
    assert [pdq.to_hex(h) for _, h in hashes] == DIHEDRAL[name] and quality == 100
    # turning the filtered buffer, as the reference does, stays near hashing the turned picture itself
    views = dict(pdq.dihedral(a))
    assert pdq.distance(hashes[5][1], pdq.pdq_hash(np.ascontiguousarray(views["rot0+flip"]))[0]) <= 24


H1 = "2d6b1af3a956c529e79ca3d2526fa834d4196c81cedd04de0a26b855fc99b724"
H2 = "dc9c9d3b746978f888f40ce6e5c3f70f7266623e8d989cb99f21f2010841e1c7"


@pytest.mark.parametrize(
    "text,groups,low",
    [
        ("", 0, 0),
        (f"{H1},100,a.jpg\n{H2},90,b.jpg\n", 2, 0),
        (f"hash,quality,name\r\n{H1},100,a.jpg\r\n", 1, 0),  # header, CRLF
        (f"# from partner X\n{H1},100,pic-1\n{H2},100,pic-1\n", 1, 0),  # one picture, two transforms
        (f"{H1},100\n{H2},100\n", 2, 0),  # no labels: one picture per row
        (f"{H1},30,low\n{H2},100,ok\n", 1, 1),  # below quality 50: skipped and counted
        (f"{H1.upper()},100,=cmd|' /C calc'!A0,extra,cols\n", 1, 0),  # formula-looking label, extra columns
        (f"{H1},100,gambar korban\n", 1, 0),  # Indonesian label
        ("\n".join(f"{H1},100,p{i}" for i in range(2000)), 2000, 0),  # huge
    ],
)
def test_parse_hash_lists(text: str, groups: int, low: int) -> None:
    got, skipped = pdq_lists.parse(text)
    assert len(got) == groups and skipped == low
    for g in got:
        assert g.hashes.shape[1] == 32 and g.hashes.shape[0] == len(g.quality)
        assert all(ch.isalnum() or ch in "._:+-" for ch in g.label)  # never markup or a formula


@pytest.mark.parametrize(
    "text,msg",
    [
        ("nothex,100\n", "line 1"),
        (f"{H1},high\n", "whole number"),
        (f"{H1},100\n{H2},101\n", "line 2: quality 101"),
        (f"{H1[:-1]},100\n", "64 hex digits"),
    ],
)
def test_bad_hash_lists_name_the_line(text: str, msg: str) -> None:
    with pytest.raises(pdq_lists.HashListError, match=msg):
        pdq_lists.parse(text)


def test_export_import_round_trip_through_the_cli(tmp_path) -> None:
    from PIL import Image

    db = tmp_path / "t.db"
    for name in ("camera", "coffee"):
        Image.fromarray(_sample(name)).save(tmp_path / f"{name}.png")
    r = CliRunner()
    out = r.invoke(main, ["bank", "add", "--db", str(db), "--server", "shared", str(tmp_path / "camera.png"), str(tmp_path / "coffee.png")])
    assert out.exit_code == 0, out.output
    exported = r.invoke(main, ["bank", "export", "--db", str(db), "--format", "pdq", "--dihedral", "-o", str(tmp_path / "out.csv")])
    assert exported.exit_code == 0, exported.output
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert len(lines) == 16 and all(len(line.split(",")[0]) == 64 for line in lines)
    assert lines[0].startswith(H2 + ",100,triagebot-")  # the camera's untransformed hash, as the reference prints it
    assert "camera" not in "".join(lines)  # opaque labels: nothing about the picture or the person

    db2 = tmp_path / "other.db"
    imp = r.invoke(main, ["bank", "import", "--db", str(db2), "--server", "cli", str(tmp_path / "out.csv")])
    assert imp.exit_code == 0, imp.output
    assert "imported 2 picture(s)" in imp.output
    with Store.open(db2) as store:
        entries = store.bank_entries(["cli"])
        assert [e["source"] for e in store.bank_list("cli")] == ["import", "import"]
    assert sorted(len(pdq_lists.entry_pdq(rec)[0]) for _, rec in entries) == [8, 8]
    again = r.invoke(main, ["bank", "export", "--db", str(db2), "-o", str(tmp_path / "again.csv")])
    assert again.exit_code == 0
    firsts = {lines[0].split(",")[0], lines[8].split(",")[0]}  # each picture's untransformed hash
    assert {line.split(",")[0] for line in (tmp_path / "again.csv").read_text().splitlines()} == firsts

    # an imported picture matches its re-share on PDQ distance alone
    m = r.invoke(main, ["bank", "match", "--db", str(db2), "--format", "jsonl", str(tmp_path / "camera.png")])
    assert m.exit_code == 0 and '"method": "pdq"' in m.output, m.output


def test_import_refuses_a_bad_list_and_adds_nothing(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{H1},100,a\nnot a hash,100,b\n")
    db = tmp_path / "t.db"
    out = CliRunner().invoke(main, ["bank", "import", "--db", str(db), str(bad)])
    assert out.exit_code != 0 and "line 2" in out.output
    with Store.open(db) as store:
        assert store.bank_size() == 0


def test_a_query_hashes_pdq_only_when_the_bank_holds_an_imported_list() -> None:
    pytest.importorskip("skimage.data")
    from classifiers.images.bank import BankIndex, fingerprint

    camera = _sample("camera")
    idx = BankIndex()
    idx.add(1, fingerprint(_sample("coffee")))
    assert not idx.matches_pdq
    assert len(fingerprint(camera, bank_variants=False, query_pdq=idx.matches_pdq).pdq) == 0  # ~1.5 ms saved

    h, quality = pdq.pdq_hash(camera)
    groups, _ = pdq_lists.parse(f"{pdq.to_hex(h)},{quality},shared-1\n")
    idx.add_records(2, pdq_lists.records(groups[0]))
    assert idx.matches_pdq
    m = idx.match(fingerprint(camera, bank_variants=False, query_pdq=idx.matches_pdq))
    assert m is not None and m.entry_id == 2 and m.method == "pdq"
