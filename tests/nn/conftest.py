import pytest

import plugtorch as pt


@pytest.fixture(autouse=True)
def _seed():
    pt.manual_seed(0)
