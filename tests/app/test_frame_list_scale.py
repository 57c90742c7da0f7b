"""Frame list confidences computed for all frames at once match the per-frame rule."""

from __future__ import annotations

import numpy as np

from app.widgets.frame_list import frame_confidence, frame_confidences
from hrnet.annotations import Frame, Instance

K = 17


def test_vectorised_frame_confidences_match_per_frame() -> None:
    rng = np.random.default_rng(1)
    frames = []
    for i in range(300):
        people = []
        for _ in range(int(rng.integers(0, 4))):
            kp = np.c_[rng.random((K, 2)) * 100, rng.choice([0.0, 2.0], K)]
            kind = rng.integers(0, 3)
            inst = Instance(kp, joint_scores=rng.random(K) if kind else None, edited=rng.random(K) < 0.3 * (kind == 2))
            people.append(inst)
        frames.append(Frame(i + 1, f"{i}.png", 10, 10, people))
    frames.append(Frame(999, "x.png", 10, 10, [Instance(np.zeros((K, 3)), joint_scores=np.ones(K))]))  # none labelled
    got = frame_confidences(frames)
    want = [frame_confidence(f) for f in frames]
    assert [g is None for g in got] == [w is None for w in want]
    assert np.allclose([g for g in got if g is not None], [w for w in want if w is not None], rtol=0, atol=1e-12)
    assert any(w is not None for w in want) and any(w is None for w in want)



def test_frame_list_of_60000_frames_resets_and_scrolls_quickly(qtbot) -> None:
    """The table view asks only for visible rows: a reset, a filter and a repaint stay well under
    the QListView's 0.6 s per layout at this size."""
    import time

    from app.document import AnnotationDocument
    from app.widgets.frame_list import FrameListWidget
    from hrnet.annotations import PoseDocument

    n = 60_000
    doc = AnnotationDocument(PoseDocument(frames=[Frame(i + 1, f"{i}.png", 10, 10) for i in range(n)]))
    w = FrameListWidget()
    qtbot.addWidget(w)
    w.resize(300, 600)
    w.show()
    t = time.perf_counter()
    w.set_document(doc)
    doc.set_current_index(n // 2)
    w.set_filter("unreviewed")
    w.refresh_frames([5, n - 5])
    w.list.viewport().repaint()
    assert time.perf_counter() - t < 0.4  # (about 0.03 s here)
    assert w.model.rowCount() == n and w.list.rowAt(0) >= 0
    assert w.list.indexAt(w.list.viewport().rect().center()).isValid()
    doc.undo_stack.clear()
    doc.close()


def test_bulk_confidences_on_a_worker_keep_edits_made_meanwhile(qtbot) -> None:
    import threading

    import app.widgets.frame_list as fl
    from app.document import AnnotationDocument
    from app.widgets.frame_list import FrameListModel, frame_confidence_array
    from hrnet.annotations import PoseDocument

    rng = np.random.default_rng(2)
    frames = [Frame(i + 1, f"{i}.png", 10, 10, [Instance(np.c_[rng.random((K, 2)), np.full(K, 2.0)],
                                                          joint_scores=rng.random(K))]) for i in range(600)]
    doc = AnnotationDocument(PoseDocument(frames=frames))
    gate = threading.Event()
    real = fl.frame_confidence_array
    fl.frame_confidence_array = lambda fr, **kw: (gate.wait(10), real(fr, **kw))[1]
    try:
        model = FrameListModel()
        model.set_document(doc)  # the pass starts, held by the gate
        doc.data.frames[7].instances[0].joint_scores = np.zeros(K)  # an edit while it runs
        model.forget(7)
        called = []
        assert not model.when_ready(lambda: called.append(1))  # L right after opening: later, no wait
        gate.set()
        qtbot.waitUntil(lambda: called == [1], timeout=10000)
        assert model.when_ready(lambda: None)
        arr = model.confidence_array()  # the pass's result, frame 7 left out of it
    finally:
        fl.frame_confidence_array = real
    assert arr[7] == 0.0
    want = frame_confidence_array(doc.data.frames)
    assert np.allclose(arr, want)
    doc.close()
