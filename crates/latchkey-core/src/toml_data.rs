//! TOML data files (`connections.toml`, the catalog's entries) read into serde types. The text is
//! parsed by `toml_edit`, which the connections' editor needs anyway (`service/clients.rs`), and
//! its values are handed to serde through `serde_json::Value`, whose deserializer the IPC layer
//! already links: the `toml` crate would add a second deserializer to the binary for the same
//! result.

use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use toml_edit::{Document, Item, TableLike};

/// Reads `text` as a `T`. The error is one sentence without position: the TOML parser's message
/// (an unclosed string, a duplicate key, …) or serde's (an unknown field, a wrong type, …).
pub(crate) fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let doc = Document::parse(text).map_err(|e| e.message().to_owned())?;
    serde_json::from_value(table(doc.as_table())?).map_err(|e| e.to_string())
}

/// A table, `[header]` or `{ inline }`.
fn table(t: &dyn TableLike) -> Result<Value, String> {
    let mut map = Map::with_capacity(t.len());
    for (key, entry) in t.iter() {
        if let Some(v) = item(entry)? {
            map.insert(key.to_owned(), v);
        }
    }
    Ok(Value::Object(map))
}

fn item(item: &Item) -> Result<Option<Value>, String> {
    Ok(match item {
        Item::None => None,
        Item::Value(v) => Some(value(v)?),
        Item::Table(t) => Some(table(t)?),
        Item::ArrayOfTables(ts) => Some(Value::Array(ts.iter().map(|t| table(t)).collect::<Result<_, _>>()?)),
    })
}

fn value(v: &toml_edit::Value) -> Result<Value, String> {
    use toml_edit::Value as V;
    Ok(match v {
        V::String(s) => Value::String(s.value().clone()),
        V::Integer(i) => Value::Number((*i.value()).into()),
        V::Float(f) => Value::Number(
            Number::from_f64(*f.value()).ok_or_else(|| format!("the number {} is not finite", f.value()))?,
        ),
        V::Boolean(b) => Value::Bool(*b.value()),
        // No setting is a date: refused, not passed on as text that a string field would take.
        V::Datetime(d) => return Err(format!("invalid type: date `{}`, no setting is a date", d.value())),
        V::Array(a) => Value::Array(a.iter().map(value).collect::<Result<_, _>>()?),
        V::InlineTable(t) => table(t)?,
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::from_str;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: String,
        port: Option<u16>,
        #[serde(default)]
        on: bool,
        ratio: Option<f64>,
        #[serde(default)]
        pairs: Vec<(String, String)>,
        inner: Option<Inner>,
        #[serde(default, rename = "item")]
        items: Vec<Inner>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        url: String,
    }

    #[test]
    fn every_toml_shape_we_read_reaches_serde() {
        let text = r#"
            name = "a" # a comment
            port = 8080
            on = true
            ratio = 0.5
            pairs = [["k", "v"], ['x', """y"""]]
            inner = { url = "https://a" }
            [[item]]
            url = "https://b"
            [[item]]
            url = "https://c"
        "#;
        let doc: Doc = from_str(text).expect("valid");
        assert_eq!(
            doc,
            Doc {
                name: "a".into(),
                port: Some(8080),
                on: true,
                ratio: Some(0.5),
                pairs: vec![("k".into(), "v".into()), ("x".into(), "y".into())],
                inner: Some(Inner { url: "https://a".into() }),
                items: vec![Inner { url: "https://b".into() }, Inner { url: "https://c".into() }],
            }
        );
        let doc: Doc = from_str("name = \"b\"\n[inner]\nurl = \"https://d\"\n").expect("a table");
        assert_eq!(doc.inner, Some(Inner { url: "https://d".into() }));
    }

    #[test]
    fn errors_are_one_sentence() {
        let err = |text: &str| from_str::<Doc>(text).expect_err(text);
        assert_eq!(err("name = \"a\"\nnmae = 1\n").split(',').next(), Some("unknown field `nmae`"));
        assert_eq!(err("name = 1"), "invalid type: integer `1`, expected a string");
        assert_eq!(err("name = \"a\"\nport = 70000"), "invalid value: integer `70000`, expected u16");
        assert_eq!(err("port = 1"), "missing field `name`");
        let syntax = err("name = \"a");
        assert!(syntax.contains("string") && !syntax.contains('\n'), "{syntax}");
        let twice = err("name = \"a\"\nname = \"b\"");
        assert!(twice.contains("duplicate key"), "{twice}");
        let date = err("name = 1979-05-27");
        assert_eq!(date, "invalid type: date `1979-05-27`, no setting is a date");
    }
}
