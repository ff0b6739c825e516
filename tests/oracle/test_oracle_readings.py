"""Signed IoT readings: every rejection reason, normalisation, identity rules, proofs."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from oracle.canonical import canonical_json, decimal_text, reading_message
from oracle.devices import Device, DeviceRegistry, DeviceStatus
from oracle.hashing_pool import LeafHasher
from oracle.loaders import parse_csv_records, parse_json_records
from oracle.merkle import verify_record
from oracle.period import Period
from oracle.readings import Reading, validate_readings
from oracle.reasons import Reason
from oracle.results import raw_records
from oracle.schemas import IotReading, rejection_of
from oracle.signatures import SignatureVerifier, address_of_private_key, sign_message

START = 1_704_038_400  # 2024-01-01T00:00+08:00
PERIOD = Period(START, START + 366 * 86400)
NOW = PERIOD.end + 86400
KEYS = {f"MW-{i}": bytes([i]) * 32 for i in range(1, 4)}
OTHER_KEY = bytes([9]) * 32
REGISTRY = DeviceRegistry.of(
    "P-TEST",
    [Device(d, address_of_private_key(k)) for d, k in KEYS.items()]
    + [Device("MW-OLD", address_of_private_key(OTHER_KEY), DeviceStatus.REVOKED)],
)


def reading(
    device: str = "MW-1",
    t: int = START + 3600,
    metric: str = "water_temperature",
    value: str = "18.4",
    unit: str = "degC",
    key: bytes | None = None,
    time_text: str | None = None,
) -> dict[str, object]:
    signer = key if key is not None else KEYS.get(device, OTHER_KEY)
    message = reading_message(device, t, metric, decimal_text(Decimal(value)), unit)
    return {
        "device_id": device,
        "time": time_text if time_text is not None else str(t),
        "metric": metric,
        "value": value,
        "unit": unit,
        "signature": "0x" + sign_message(signer, message).hex(),
    }


def run(rows, **kw):
    kw.setdefault("registry", REGISTRY)
    kw.setdefault("period", PERIOD)
    kw.setdefault("now", NOW)
    return validate_readings(raw_records(rows), **kw)


def only_reason(rows, **kw) -> Reason:
    result = run(rows, **kw)
    assert len(result.rejected) == 1, result.summary()
    return result.rejected[-1].reason


def test_a_good_reading_is_accepted_with_its_canonical_bytes():
    row = reading()
    result = run([row])
    assert result.counts() == {"total": 1, "accepted": 1, "rejected": 0, "by_reason": {}}
    r = result.accepted[0]
    assert r == Reading(
        "MW-1", START + 3600, "water_temperature", Decimal("18.4"), "degC", "18.4", "degC",
        bytes.fromhex(str(row["signature"])[2:]),
    )  # fmt: skip
    assert result.records[0] == canonical_json(
        {
            "schema": "tanhui.iot-reading.v1",
            "device": "MW-1",
            "time": START + 3600,
            "metric": "water_temperature",
            "value": "18.4",
            "unit": "degC",
            "sig": row["signature"],
        }
    )
    assert r.canonical() == result.records[0]
    assert IotReading.model_validate(row).canonical() == result.records[0]


def test_the_documented_example_vector():
    # docs/oracle-data.md §1.2: the sample data's first reading
    from devkit.sample_data import device_key
    from oracle.canonical import reading_record
    from oracle.merkle import leaf_hash

    key = device_key("MW-BUOY-01")
    message = reading_message("MW-BUOY-01", START, "water_temperature", "16.85", "degC")
    sig = sign_message(key, message)
    assert address_of_private_key(key) == "0x34c743c818e24ffa8d88d6f4c836b29e479a6d36"
    assert sig.hex().startswith("773f751d02dc2c58") and sig.hex().endswith("318071611c")
    record = reading_record(
        "MW-BUOY-01", START, "water_temperature", "16.85", "degC", "0x" + sig.hex()
    )
    assert leaf_hash(record).hex() == (
        "af27660e37a2a7b00d8db28ae01c5020e0afb8bb2beed772e9d7c0edb8af6b65"
    )


def test_iso_times_and_trailing_zeros_sign_the_same_canonical_reading():
    row = reading(value="18.40", time_text="2024-01-01T01:00:00+08:00")
    result = run([row])
    assert result.accepted[0].sent_value == "18.4"
    assert result.accepted[0].time == START + 3600


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"time": ""}, Reason.MISSING_FIELD),
        ({"extra": "1"}, Reason.UNEXPECTED_FIELD),
        ({"value": 18.4}, Reason.MALFORMED_FIELD),  # a float is not exact
        ({"value": "1_8"}, Reason.MALFORMED_FIELD),
        ({"value": "NaN"}, Reason.MALFORMED_FIELD),
        ({"time": "2024-01-01T01:00:00"}, Reason.MALFORMED_FIELD),  # naive
        ({"time": "2024-01-01T01:00:00.5+08:00"}, Reason.MALFORMED_FIELD),
        ({"signature": "0x1234"}, Reason.MALFORMED_FIELD),
        ({"device_id": "MW 1"}, Reason.MALFORMED_FIELD),
        ({"metric": "wind_speed"}, Reason.UNKNOWN_METRIC),
        ({"unit": "furlongs"}, Reason.UNKNOWN_UNIT),
        ({"unit": "PSU"}, Reason.UNIT_MISMATCH),  # a known unit, of something else
        ({"unit": "degF"}, Reason.UNIT_MISMATCH),  # no exact conversion
        ({"value": "45.01"}, Reason.OUT_OF_RANGE),
        ({"device_id": "MW-9"}, Reason.UNKNOWN_DEVICE),
    ],
)
def test_single_faults_get_their_reason(change, reason):
    row = {**reading(), **change}
    if "device_id" in change and change["device_id"] == "MW-9":
        row = reading(device="MW-9")
    assert only_reason([row]) is reason


def test_missing_field_is_named():
    row = reading()
    del row["unit"]
    result = run([row])
    assert result.rejected[0].reason is Reason.MISSING_FIELD
    assert result.rejected[0].field == "unit"


def test_time_outside_the_period_and_in_the_future():
    assert only_reason([reading(t=START - 1)]) is Reason.OUTSIDE_PERIOD
    assert only_reason([reading(t=PERIOD.end)]) is Reason.OUTSIDE_PERIOD
    assert only_reason([reading(t=START + 7200)], now=START + 3600) is Reason.FUTURE_TIMESTAMP


def test_revoked_device_readings_are_all_rejected():
    assert only_reason([reading(device="MW-OLD", key=OTHER_KEY)]) is Reason.REVOKED_DEVICE


def test_forged_and_tampered_signatures():
    assert only_reason([reading(key=OTHER_KEY)]) is Reason.BAD_SIGNATURE
    tampered = {**reading(), "value": "18.5"}  # signed 18.4, claims 18.5
    assert only_reason([tampered]) is Reason.BAD_SIGNATURE
    other_device = {**reading(device="MW-2"), "device_id": "MW-1"}
    assert only_reason([other_device]) is Reason.BAD_SIGNATURE


def test_high_s_signatures_are_refused():
    # (r, n − s, v ^ 1) is the same signature re-encoded: valid ECDSA, recovers the same key,
    # but OpenZeppelin's ECDSA refuses it and so do we (no second form of one reading).
    row = reading()
    sig = bytes.fromhex(str(row["signature"])[2:])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(sig[32:64], "big")
    flipped = sig[:32] + (n - s).to_bytes(32, "big") + bytes([((sig[64] - 27) ^ 1) + 27])
    row["signature"] = "0x" + flipped.hex()
    assert only_reason([row]) is Reason.BAD_SIGNATURE


def test_signatures_interoperate_with_eth_account():
    key = KEYS["MW-1"]
    message = reading_message("MW-1", START + 60, "salinity", "21.3", "PSU")
    theirs = Account.sign_message(encode_defunct(primitive=message), key).signature
    assert SignatureVerifier().recover(message, bytes(theirs)) == bytes.fromhex(
        address_of_private_key(key)[2:]
    )
    ours = sign_message(key, message)
    recovered = Account.recover_message(encode_defunct(primitive=message), signature=ours)
    assert recovered.lower() == address_of_private_key(key)


def test_unit_normalisation_is_exact_and_the_sent_unit_is_what_is_signed():
    result = run(
        [
            reading(value="291.55", unit="K"),
            reading(t=START + 7200, metric="soil_moisture", value="0.4825", unit="m3/m3"),
            reading(t=START + 7200, metric="water_level", value="125", unit="cm"),
        ]
    )
    assert [(r.value, r.unit, r.sent_unit) for r in result.accepted] == [
        (Decimal("18.40"), "degC", "K"),
        (Decimal("48.2500"), "%", "m3/m3"),
        (Decimal("1.25"), "m", "cm"),
    ]
    assert b'"unit":"K","value":"291.55"' in result.records[0]


def test_duplicates_replays_and_conflicts():
    a = reading()
    same_key_other_value = reading(value="19.0")
    assert run([a, a]).reason_counts() == {"duplicate_record": 1}
    replay = run([a], seen={("MW-1", START + 3600, "water_temperature")})
    assert replay.reason_counts() == {"replayed_record": 1}
    both = run([a, same_key_other_value, reading(t=START + 7200)])
    assert both.reason_counts() == {"conflicting_record": 2}
    assert len(both.accepted) == 1


def test_the_accepted_set_and_root_do_not_depend_on_arrival_order():
    rows = [reading(t=START + 3600 * i, value=f"18.{i}") for i in range(1, 15)]
    rows += [reading(t=START + 3600, value="17.0"), rows[3]]  # a conflict and a duplicate
    forward, backward = run(rows), run(list(reversed(rows)))
    assert forward.tree().root == backward.tree().root
    assert sorted(forward.records) == sorted(backward.records)


def test_a_forged_copy_cannot_shadow_the_genuine_reading():
    genuine = reading()
    forged = {**reading(key=OTHER_KEY)}
    result = run([forged, genuine])
    assert result.reason_counts() == {"bad_signature": 1}
    assert result.accepted[0].signature.hex() == str(genuine["signature"])[2:]


def test_spikes_are_rejected_as_outliers_within_their_week():
    rows = [
        reading(t=START + 3600 * h, metric="salinity", value=f"{20 + (h % 5) / 10}", unit="PSU")
        for h in range(48)
    ]
    rows[30] = reading(t=START + 3600 * 30, metric="salinity", value="41.0", unit="PSU")
    result = run(rows)
    assert result.reason_counts() == {"statistical_outlier": 1}
    assert result.rejected[0].position == 30
    assert "median" in result.rejected[0].message


def test_few_readings_are_not_screened_and_constant_series_fall_back_to_mean_deviation():
    few = [reading(t=START + 3600 * h, value="18.0") for h in range(5)]
    few.append(reading(t=START + 3600 * 6, value="40.0"))
    assert run(few).reason_counts() == {}
    flat = [reading(t=START + 3600 * h, value="18.0") for h in range(30)]
    flat.append(reading(t=START + 3600 * 31, value="25.0"))
    assert run(flat).reason_counts() == {"statistical_outlier": 1}


def test_rejections_keep_the_record_line_and_counts():
    good = reading()
    csv_text = "device_id,time,metric,value,unit,signature\n"
    csv_text += ",".join(str(good[k]) for k in good) + "\n"
    csv_text += "MW-1,1704042000,water_temperature,18.4\n"  # truncated row
    csv_text += "MW-1,1704045600,water_temperature,18.4,degC,0xab12\n"  # cut in the signature
    result = validate_readings(
        parse_csv_records(csv_text), registry=REGISTRY, period=PERIOD, now=NOW
    )
    assert result.counts() == {
        "total": 3,
        "accepted": 1,
        "rejected": 2,
        "by_reason": {"truncated_row": 1, "malformed_field": 1},
    }
    truncated = result.rejected[0]
    assert (truncated.position, truncated.line, truncated.field) == (1, 3, "unit")
    assert truncated.record["value"] == "18.4"
    assert result.rejected[1].line == 4
    summary = json.loads(json.dumps(result.summary()))
    assert summary["rejections"][0]["reason"] == "truncated_row"


def test_a_file_cut_inside_a_quoted_cell_rejects_the_rest_not_the_file():
    good = reading()
    csv_text = "device_id,time,metric,value,unit,signature\n"
    csv_text += ",".join(str(good[k]) for k in good) + "\n"
    csv_text += 'MW-1,1704042000,"water_temp'
    result = validate_readings(
        parse_csv_records(csv_text), registry=REGISTRY, period=PERIOD, now=NOW
    )
    assert result.reason_counts() == {"truncated_row": 1}
    assert len(result.accepted) == 1


def test_json_submissions_parse_numbers_exactly():
    row = reading(value="18.4")
    text = json.dumps([{**row, "value": "REPLACE"}]).replace('"REPLACE"', "18.40")
    records = parse_json_records(text)
    assert records[0].fields["value"] == Decimal("18.40")
    result = validate_readings(records, registry=REGISTRY, period=PERIOD, now=NOW)
    assert result.accepted[0].sent_value == "18.4"


def test_leaves_hashed_in_a_worker_equal_leaves_hashed_here():
    rows = [reading(t=START + 3600 * i, value=f"18.{i % 10}") for i in range(40)]
    rows.append(reading(t=START + 3600, value="19.9"))  # conflict: a late rejection
    plain = run(rows)
    with LeafHasher() as hasher:
        hasher.CHUNK = 16
        pooled = run(rows, hasher=hasher)
    assert pooled.precomputed_leaves is not None
    assert pooled.leaves() == plain.leaves()
    assert pooled.tree().root == plain.tree().root


# --- the fast path and the pydantic schema agree ----------------------------------------------

VALID = reading()
FIELD_VARIANTS: dict[str, list[object]] = {
    "device_id": ["MW-1", "", "MW 1", 7, None, "M" * 65],
    "time": [
        str(START + 3600), START + 3600, "2024-01-01T01:00:00+08:00", "2024-01-01T01:00:00",
        "2024-01-01T01:00:00.25+08:00", "yesterday", "", True, 1.5, "１２３", "9" * 14,
    ],
    "metric": ["water_temperature", "salinity", "wind", "", 3, None],
    "unit": ["degC", "K", "°C", "PSU", "degF", "kg", "furlongs", "", None],
    "value": [
        "18.4", "18.40", 18, Decimal("18.4"), 18.4, "1e1", "abc", "", "1_8", " 18", True,
        "NaN", "400", "-300", "291.55", Decimal("Infinity"),
    ],
    "signature": [
        VALID["signature"], str(VALID["signature"]).upper().replace("0X", "0x"), "0x12",
        "0x" + "zz" * 65, "", 123, "0x" + "ab" * 64 + "a b",
    ],
}  # fmt: skip


def _model_verdict(fields):
    try:
        IotReading.model_validate(fields)
        return None
    except ValidationError as e:
        return rejection_of(e)[0]


def _fast_verdict(fields):
    result = run([fields], verify_signatures=False)
    return result.rejected[0].reason if result.rejected else None


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in FIELD_VARIANTS.items()}))
def test_fast_path_and_schema_accept_and_refuse_alike(fields):
    assert (_fast_verdict(fields) is None) == (_model_verdict(fields) is None)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(FIELD_VARIANTS)), st.data())
def test_fast_path_and_schema_give_the_same_reason_for_one_bad_field(field, data):
    fields = dict(VALID)
    fields[field] = data.draw(st.sampled_from(FIELD_VARIANTS[field]))
    assert _fast_verdict(fields) == _model_verdict(fields)


# --- the invariant the chain relies on --------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(KEYS)),
            st.integers(min_value=0, max_value=200),
            st.sampled_from(["water_temperature", "salinity"]),
            st.integers(min_value=100, max_value=300),
        ),
        min_size=1,
        max_size=25,
    ),
    st.data(),
)
def test_every_accepted_reading_proves_and_a_tampered_one_does_not(specs, data):
    rows = [
        reading(device=d, t=START + 3600 * h, metric=m, value=str(Decimal(v) / 10), unit=(
            "degC" if m == "water_temperature" else "PSU"))
        for d, h, m, v in specs
    ]  # fmt: skip
    result = run(rows)
    assert result.total == len(rows)
    assume(result.records)  # conflicting readings of one instant are all refused
    tree = result.tree()
    for record in result.records:
        assert verify_record(tree.record_proof(record), tree.root, record)
    victim = data.draw(st.sampled_from(result.records))
    tampered = victim.replace(b'"value":"', b'"value":"1')
    assert not verify_record(tree.record_proof(victim), tree.root, tampered)


def test_device_registry_round_trips_and_refuses_bad_entries(tmp_path):
    path = tmp_path / "devices.json"
    REGISTRY.save(path)
    again = DeviceRegistry.load(path)
    assert again == REGISTRY
    assert not again.devices["MW-OLD"].active
    assert REGISTRY.revoke("MW-1").devices["MW-1"].status is DeviceStatus.REVOKED
    assert REGISTRY.devices["MW-1"].active  # registries are values
    with pytest.raises(ValueError):
        DeviceRegistry.from_json({"project": "P", "devices": [{"device_id": "X"}]})
    with pytest.raises(ValueError):
        Device("MW-1", "0x1234")
    with pytest.raises(ValueError):
        DeviceRegistry.of("P", [REGISTRY.devices["MW-1"], REGISTRY.devices["MW-1"]])
