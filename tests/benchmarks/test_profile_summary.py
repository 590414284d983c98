"""The profile rows of benchmarks/framework_client.py, from py-spy's raw stacks."""

from __future__ import annotations

from benchmarks.common import REPO_ROOT
from benchmarks.framework_client import top_functions

STACKS = [
    "<module> (gunicorn:8);handle (api/routes/compat.py:40);detect (api/vision/mtcnn.py:150) 30",
    # py-spy names files by their absolute path
    "<module> (gunicorn:8);handle (api/routes/compat.py:40);"
    f"embed ({REPO_ROOT}/api/vision/embedder.py:80) 60",
    "<module> (gunicorn:8);wait (selectors.py:400) 10",
    # a package of the same name elsewhere is not the API's
    "<module> (gunicorn:8);get (/venv/lib/site-packages/x/api/y.py:3) 0",
    # a function on the stack twice (recursion, or two lines) counts once per sample
    "<module> (gunicorn:8);handle (api/routes/compat.py:40);handle (api/routes/compat.py:41) 10",
]


def test_shares_count_samples_whose_stack_holds_the_function_of_the_api() -> None:
    rows = {row["function"]: row["share"] for row in top_functions(STACKS)}
    assert rows == {
        "handle (api/routes/compat.py)": 0.909,
        "embed (api/vision/embedder.py)": 0.545,
        "detect (api/vision/mtcnn.py)": 0.273,
    }
    assert [row["function"] for row in top_functions(STACKS, count=1)] == [
        "handle (api/routes/compat.py)"
    ]
