"""Every methodology names its sink category, and eligibility rules read it from the chain."""

from __future__ import annotations

import pytest

from chain.client import ChainRevert
from devkit.scenario import Scenario, doc
from registry.categories import SinkCategory, categories_of_mask, category_mask


def test_a_methodology_keeps_the_sink_category_it_was_registered_with(ledger, acc):
    s = Scenario(ledger, acc)
    seagrass = s.methodology(category=SinkCategory.SEAGRASS)
    forest = s.methodology(category=SinkCategory.FOREST)
    assert ledger.sink_category_of(seagrass) is SinkCategory.SEAGRASS
    assert ledger.sink_category_of(forest) is SinkCategory.FOREST
    assert ledger.methodology(forest).category == SinkCategory.FOREST


def test_the_registration_event_names_the_category(ledger, acc):
    created = ledger.register_methodology(
        acc["operator"], "CM-BC-701-V01", "贝类养殖碳汇 Shellfish carbon", doc("m"), doc("p"),
        1_000, SinkCategory.SHELLFISH)
    event = ledger.events_of(created.sent, "MethodologyRegistered")[0]
    assert event.args["category"] == SinkCategory.SHELLFISH


@pytest.mark.parametrize("category", [0, 8, 255])
def test_a_methodology_without_a_valid_category_is_refused(ledger, acc, category):
    with pytest.raises(ChainRevert) as e:
        ledger.register_methodology(acc["operator"], "CM-BC-702-V01", "X", doc("m"), doc("p"),
                                    1_000, category)  # type: ignore[arg-type]
    assert (e.value.name, e.value.error and e.value.error.args) == (
        "InvalidSinkCategory", {"category": category})


def test_an_unknown_methodology_has_no_category(ledger):
    with pytest.raises(ChainRevert) as e:
        ledger.sink_category_of(999)
    assert e.value.name == "UnknownMethodology"


def test_category_spellings_and_masks_round_trip():
    assert SinkCategory.of("soil_water_conservation") is SinkCategory.SOIL_WATER_CONSERVATION
    assert [c.key for c in SinkCategory][:3] == ["mangrove", "seagrass", "salt_marsh"]
    mask = category_mask([SinkCategory.MACROALGAE, SinkCategory.SHELLFISH])
    assert mask == 0b110000
    assert categories_of_mask(mask) == (SinkCategory.MACROALGAE, SinkCategory.SHELLFISH)
