"""Read ``template.yaml``, so tests build their tables from the deployed schema itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"

# The CreateTable parameters a table's Properties map onto one to one. TimeToLiveSpecification
# is not among them (it is a separate UpdateTimeToLive call); SSE and point-in-time recovery do
# not change what the store can do.
CREATE_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that reads CloudFormation's short-form tags as plain data."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    """``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"GetAtt": "A.B"}``, and so on."""
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


CloudFormationLoader.add_multi_constructor("!", _tag)


def load_template(path: str | Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, with every ``!Tag value`` read as ``{"Tag": value}``."""
    with Path(path).open(encoding="utf-8") as file:
        data = yaml.load(file, Loader=CloudFormationLoader)  # a SafeLoader subclass
    assert isinstance(data, dict)
    return data


def table_properties_from_template(
    path: str | Path = TEMPLATE, resource: str = "SessionsTable"
) -> dict[str, Any]:
    """The ``Properties`` of the DynamoDB table ``resource`` in the template at ``path``."""
    table = load_template(path)["Resources"][resource]
    assert table["Type"] == "AWS::DynamoDB::Table", table["Type"]
    properties = table["Properties"]
    assert isinstance(properties, dict)
    return properties


def create_table_request(table_name: str, path: str | Path = TEMPLATE) -> dict[str, Any]:
    """CreateTable parameters for a table shaped like the template's ``SessionsTable``."""
    properties = table_properties_from_template(path)
    return {
        "TableName": table_name,
        **{k: properties[k] for k in CREATE_TABLE_KEYS if k in properties},
    }


def ttl_attribute(path: str | Path = TEMPLATE) -> str:
    """The attribute the template's ``SessionsTable`` expires items by."""
    spec = table_properties_from_template(path)["TimeToLiveSpecification"]
    assert spec["Enabled"] is True
    return str(spec["AttributeName"])
