"""Which face /verify takes: the subject, weighed by size and nearness to the centre."""

from __future__ import annotations

from api.vision import Face, primary_face

EYES = ((0.0, 0.0), (1.0, 0.0), (0.5, 0.5), (0.2, 1.0), (0.8, 1.0))


def box(left: float, top: float, side: float) -> Face:
    return Face((left, top, left + side, top + side), 0.99, EYES)


def test_no_face_gives_none() -> None:
    assert primary_face([], 250, 250) is None


def test_a_larger_bystander_at_the_edge_loses_to_the_central_subject() -> None:
    """LFW's usual case: the subject (100 px, centred) and a nearer, larger bystander cut
    by the frame's edge (120 px, centre 100 px off): area 14,400 - 2 x 100^2 < 10,000."""
    subject, bystander = box(75, 75, 100), box(165, 65, 120)
    assert primary_face([bystander, subject], 250, 250) is subject


def test_a_small_face_near_the_centre_loses_to_a_large_one_nearby() -> None:
    """A background face 20 px across right at the centre does not beat the subject 100 px
    across whose centre is 30 px off: 400 < 10,000 - 2 x 30^2."""
    subject, background = box(80, 50, 100), box(115, 115, 20)
    assert primary_face([background, subject], 250, 250) is subject
