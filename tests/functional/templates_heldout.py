"""A held-out batch of functional templates, written before any v8 tuning and never tuned on.

Why: v8 was tuned against the first batch (``generator.TEMPLATES_*``), so that batch now flatters the
model. These templates use different phrasing and add the hard negatives the first batch lacked:
political and policy talk that names a group ("tolak TKA asing", "anti aseng"-style), news of
violence against a group, and questions. Their figures are reported separately as the honest number.
Like the first batch they are never training data (hand-written rows are phrased by their own authors).

Each entry is (kind, hateful?, template); ``{g}`` is the group name (Indonesian name as used after
"orang", or the English name), as in :data:`tests.functional.generator.GROUPS`.
"""

from __future__ import annotations

TEMPLATES_ID_HELDOUT: tuple[tuple[str, bool, str], ...] = (
    ("threat", True, "orang {g} yang lewat sini bakal gue pukulin sampai babak belur"),
    ("threat", True, "siapin golok, malam ini kita serang kampung orang {g}"),
    ("dehumanise", True, "orang {g} itu kayak kecoa, makin banyak makin jorok"),
    ("dehumanise", True, "otak orang {g} sama kayak monyet, gak bisa diajari"),
    ("exclusion", True, "kampung kita harus bersih dari orang {g}, jangan ada yang ngontrak di sini"),
    ("exclusion", True, "tolak aja kalau yang melamar orang {g}, cuma bikin rusak kantor"),
    ("stereotype", True, "pantes dompetku hilang, tadi ada orang {g} duduk di sebelahku"),
    ("inferiority", True, "keturunan {g} mah otaknya pas pasan, gak usah diharap"),
    ("political", False, "pemerintah harus tegas soal TKA asing, tapi jangan salahkan orang {g} yang sudah lama tinggal di sini"),
    ("political", False, "caleg itu janji memperjuangkan hak masyarakat {g} di DPR"),
    ("news", False, "polisi menangkap pelaku pengeroyokan terhadap mahasiswa {g} di asrama"),
    ("counter", False, "kalimat 'orang {g} itu pemalas' itu jahat, tolong berhenti nyebarin"),
    ("negation", False, "nggak ada hubungannya kelakuan dia sama dia orang {g}"),
    ("neutral", False, "besok ada acara makan bareng keluarga besar orang {g} dari kampung"),
    ("neutral", False, "ada yang tahu rumah makan khas {g} yang enak di jakarta?"),
)

TEMPLATES_EN_HELDOUT: tuple[tuple[str, bool, str], ...] = (
    ("threat", True, "any {g} who shows up at our school tomorrow is getting stabbed"),
    ("threat", True, "we should round up the {g} families and burn their houses down"),
    ("dehumanise", True, "{g} people are cockroaches, they breed and spread everywhere"),
    ("dehumanise", True, "those {g} are filthy rats and should be treated like it"),
    ("exclusion", True, "no {g} allowed in this building, landlords should refuse them"),
    ("stereotype", True, "never trust a {g}, they will rob you the second you look away"),
    ("stereotype", True, "of course the scammer was {g}, they always are"),
    ("inferiority", True, "{g} people can't think for themselves, they need to be ruled"),
    ("political", False, "we need stricter rules on foreign workers, but {g} citizens are not the problem"),
    ("political", False, "the minister promised more school funding for {g} communities in the east"),
    ("news", False, "police arrested two men for attacking a {g} student last night"),
    ("counter", False, "calling {g} people vermin is disgusting and you should be banned for it"),
    ("negation", False, "i never said {g} people are lazy, read my post again"),
    ("neutral", False, "my grandmother is {g} and she taught me to cook"),
    ("neutral", False, "does anyone know a good {g} restaurant near the station?"),
)
