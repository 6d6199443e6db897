//! OpenAPI schemas of the engine's value types, written next to the API that needs them.
//!
//! `Money`, `Market`, `Asin`, `Currency`, `HealthStatus` and `Source` serialize by hand
//! (money as `{"amount":minor,"currency":…}`, markets as their two-letter code). Deriving
//! `ToSchema` on them would put the OpenAPI crate into the engine, which must not know the
//! API exists, so their schemas are implemented here, in the same crate, and each one is
//! checked against the real serializer by the tests below.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::component::HealthStatus;
use crate::domain::{Asin, Currency, Market, Money, PricePoint, SeriesKind};
use crate::pipeline::Source;
use crate::store::{OpportunitySort, SortOrder};

fn string_enum(description: &str, values: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values.iter().copied()))
        .into()
}

impl PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        string_enum("ISO 4217 currency code.", &["EUR", "GBP"])
    }
}
impl ToSchema for Currency {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Currency")
    }
}

impl PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "An amount in integer minor units (cents, pence) of one currency: \
                 {\"amount\":1999,\"currency\":\"EUR\"} is 19.99 EUR. Never a float.",
            ))
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .description(Some("Minor units: 1999 is 19.99.")),
            )
            .required("amount")
            .property("currency", Currency::schema())
            .required("currency")
            .examples([serde_json::json!({"amount": 1999, "currency": "EUR"})])
            .into()
    }
}
impl ToSchema for Money {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Money")
    }
}

impl PartialSchema for Market {
    fn schema() -> RefOr<Schema> {
        let codes: Vec<&str> = Market::ALL.iter().map(|m| m.code()).collect();
        string_enum("An Amazon marketplace covered by Keepa.", &codes)
    }
}
impl ToSchema for Market {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Market")
    }
}

impl PartialSchema for Asin {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("Amazon Standard Identification Number, upper case."))
            .pattern(Some("^[A-Z0-9]{10}$"))
            .examples(["B0V97D4503"])
            .into()
    }
}
impl ToSchema for Asin {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Asin")
    }
}

impl PartialSchema for HealthStatus {
    fn schema() -> RefOr<Schema> {
        string_enum("How a component is doing.", &["ok", "degraded", "down"])
    }
}
impl ToSchema for HealthStatus {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("HealthStatus")
    }
}

impl PartialSchema for Source {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "Where the data comes from: the real Keepa API, or the built-in simulator.",
            &["live", "demo"],
        )
    }
}
impl ToSchema for Source {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Source")
    }
}

impl PartialSchema for SeriesKind {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "What a history series tracks: prices (`amazon`, `new`, `buy_box`) or `sales_rank`.",
            &["amazon", "new", "sales_rank", "buy_box"],
        )
    }
}
impl ToSchema for SeriesKind {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SeriesKind")
    }
}

impl PartialSchema for PricePoint {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A step of a history series: `value` holds from `at` until the next point.",
            ))
            .property(
                "at",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .required("at")
            .property(
                "value",
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                        Type::Integer,
                        Type::Null,
                    ]))
                    .description(Some("Minor units, or the rank; null = no offer.")),
            )
            .required("value")
            .into()
    }
}
impl ToSchema for PricePoint {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PricePoint")
    }
}

impl PartialSchema for OpportunitySort {
    fn schema() -> RefOr<Schema> {
        let keys: Vec<&str> = OpportunitySort::NAMES.iter().map(|(k, _)| *k).collect();
        string_enum("Sort key of `/opportunities`.", &keys)
    }
}
impl ToSchema for OpportunitySort {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("OpportunitySort")
    }
}

impl PartialSchema for SortOrder {
    fn schema() -> RefOr<Schema> {
        let names: Vec<&str> = SortOrder::NAMES.iter().map(|(k, _)| *k).collect();
        string_enum(
            "Sort direction of `/opportunities`: `desc` (the default) or `asc`.",
            &names,
        )
    }
}
impl ToSchema for SortOrder {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SortOrder")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn enum_values(schema: RefOr<Schema>) -> Vec<Value> {
        let v = serde_json::to_value(schema).unwrap();
        v["enum"].as_array().cloned().unwrap_or_default()
    }

    fn json<T: serde::Serialize>(t: T) -> Value {
        serde_json::to_value(t).unwrap()
    }

    #[test]
    fn enum_schemas_match_the_serializers() {
        let markets: Vec<Value> = Market::ALL.iter().map(json).collect();
        assert_eq!(enum_values(Market::schema()), markets);
        assert_eq!(
            enum_values(Currency::schema()),
            vec![json(Currency::EUR), json(Currency::GBP)]
        );
        let statuses = [HealthStatus::Ok, HealthStatus::Degraded, HealthStatus::Down];
        assert_eq!(
            enum_values(HealthStatus::schema()),
            statuses.iter().map(json).collect::<Vec<_>>()
        );
        let sorts: Vec<Value> = super::OpportunitySort::NAMES
            .iter()
            .map(|(_, s)| json(s))
            .collect();
        assert_eq!(enum_values(OpportunitySort::schema()), sorts);
        let kinds = [
            SeriesKind::Amazon,
            SeriesKind::New,
            SeriesKind::SalesRank,
            SeriesKind::BuyBox,
        ];
        assert_eq!(
            enum_values(SeriesKind::schema()),
            kinds.iter().map(json).collect::<Vec<_>>()
        );
        assert_eq!(
            enum_values(Source::schema()),
            vec![json(Source::Live), json(Source::Demo)]
        );
    }

    #[test]
    fn money_schema_names_the_serialized_fields() {
        let schema = serde_json::to_value(Money::schema()).unwrap();
        let money = json(Money::gbp(1299));
        let props: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let fields: Vec<&String> = money.as_object().unwrap().keys().collect();
        assert_eq!(props, fields);
        let point = PricePoint {
            at: chrono::DateTime::UNIX_EPOCH,
            value: None,
        };
        let schema = serde_json::to_value(PricePoint::schema()).unwrap();
        let props: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let point = json(point);
        let fields: Vec<&String> = point.as_object().unwrap().keys().collect();
        assert_eq!(props, fields);
    }
}
