"""`TrialRecord`: one trial's record survives JSON and refuses fields it does not have."""
import json

import pytest

from keras_nas.search.records import FIELDS, TrialRecord


def test_a_record_round_trips_through_json_keeping_only_what_is_set():
    record = TrialRecord(architecture="conv8k3", params=10, epochs=2, seconds=1.5, parent="3", inherited=True, moves=1)
    data = json.loads(json.dumps(record.to_dict()))
    assert TrialRecord.from_dict(data) == record and "failure" not in data
    assert TrialRecord.from_dict({}) == TrialRecord()


def test_an_unknown_field_is_refused_naming_it_and_the_fields():
    with pytest.raises(ValueError, match=r"no field \['colour'\]; its fields are .*'architecture'"):
        TrialRecord.from_dict({"architecture": "a", "colour": "red"})
    assert {"architecture", "params", "epochs", "seconds", "failure", "inherited"} <= FIELDS
