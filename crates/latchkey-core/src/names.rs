//! Enums whose variants are written as words (in `connections.toml`, the catalog, on the command
//! line, over IPC): one table gives each variant its word, which serde, `as_str` and `FromStr` all
//! use, so the three cannot disagree.

/// `named_enum!(what, enum … { Variant = "word", … })`: the enum with `#[serde(rename = "word")]` on
/// each variant (derive `Serialize` / `Deserialize` in its attributes), `ALL`, `as_str`, and
/// `FromStr`, whose error is the sentence “{what} “x” is unknown (use a, b or c)”.
macro_rules! named_enum {
    ($what:literal, $(#[$meta:meta])* pub enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+
    }) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> std::result::Result<Self, String> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    format!("{} “{s}” is unknown (use {})", $what, $crate::names::one_of(&[$($word),+]))
                })
            }
        }
    };
}

pub(crate) use named_enum;

/// `a, b or c`.
pub(crate) fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    named_enum!(
        "color",
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Color {
            #[default]
            Red = "red",
            DeepBlue = "deep-blue",
        }
    );

    #[test]
    fn the_word_is_the_same_for_serde_as_str_and_from_str() {
        for c in Color::ALL {
            let json = serde_json::to_value(c).expect("serialize");
            assert_eq!(json, serde_json::Value::from(c.as_str()));
            assert_eq!(serde_json::from_value::<Color>(json).expect("deserialize"), *c);
            assert_eq!(c.as_str().parse(), Ok(*c));
        }
        assert_eq!(Color::DeepBlue.as_str(), "deep-blue");
        assert_eq!("blue".parse::<Color>(), Err("color “blue” is unknown (use red or deep-blue)".to_owned()));
        assert_eq!(super::one_of(&["a", "b", "c"]), "a, b or c");
    }
}
