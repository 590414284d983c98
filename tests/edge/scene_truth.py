"""Faces in ../shared/data/scenes, counted and located by looking at the images.

Stills: every visible face (a face cut off by the frame edge is not counted).
facenet_pytorch_video.mp4 (1920x1080): one point on each clearly visible face at three
frames, labelled by person, read off the frames with a pixel grid drawn on them.
face_recognition_short_hamilton_clip.mp4: its shots and who is in each, read off its frames.
"""

from __future__ import annotations

from edge.geometry import Detection

STILL_FACES = {
    "face_recognition_obama_and_biden.jpg": 3,  # Biden, Obama, the girl at the bottom right
    "face_recognition_two_people.jpg": 2,
    "facenet_pytorch_multiface.jpg": 6,
    "insightface_t1.jpg": 6,
}

VIDEO_FACES: dict[int, dict[str, tuple[int, int]]] = {
    0: {
        "scarf_woman": (319, 751),
        "red_haired_man": (707, 578),
        "boy": (957, 669),
        "woman_in_red": (886, 649),
        "older_man": (1105, 629),
        "man_right_profile": (1480, 560),
    },
    70: {
        "white_haired_woman": (243, 680),
        "red_haired_man": (564, 639),
        "boy": (937, 680),
        "man_with_glasses": (1182, 720),
        "older_man": (1095, 680),
    },
    104: {
        "red_haired_man": (424, 552),  # looking down
        "boy": (794, 649),
        "man_with_glasses": (1207, 710),
        "older_man": (1141, 680),
        "woman_in_red": (942, 690),
    },
}

# Of the 16 points above, how many each detector finds (measured; RFB-320 sees 1080p
# frames at 320x240, where the faces at the back are 8 pixels wide).
VIDEO_RECALL = {"ultraface-640": 16, "retinaface": 15, "ultraface-320": 9}

# The Hamilton clip: [first, end) frame of each shot and who is in it (enrolled ids).
HAMILTON_SHOTS: tuple[tuple[int, int, set[str]], ...] = (
    (0, 20, {"alex_lacamoire", "lin-manuel_miranda"}),  # wide: Lin standing, Alex at the piano
    (20, 82, {"alex_lacamoire"}),  # Alex in profile, close up
    (82, 211, {"lin-manuel_miranda"}),
    (211, 275, set()),  # the audience: nobody enrolled
)
HAMILTON_FRAMES = HAMILTON_SHOTS[-1][1]
HAMILTON_SHOT_STARTS = tuple(start for start, _, _ in HAMILTON_SHOTS[1:])  # (20, 82, 211)


def contains(detection: Detection, point: tuple[int, int]) -> bool:
    """Whether a located face's point lies in a detection's box (edges included)."""
    box = detection.box
    return box.left <= point[0] <= box.right and box.top <= point[1] <= box.bottom
