//! koc's engine: the pipeline file, the store and its ingest, the loaded data and
//! every stage of SPEC §4–§17, as typed results. Nothing here formats for people or
//! knows a command: that is the `koc` crate's `output/` and `cmd/`, which this crate
//! cannot reach (the compiler keeps the layers).
//!
//! Inside, `pipeline/` reads and checks the pipeline file, `ingest/` turns exports
//! into the store, `model` loads the store's data for a date, `stages/` computes from
//! it (no files, environment or terminal) and `compute` runs the stages in SPEC order.
//!
//! No `unsafe` anywhere: speed comes from the data layout and the algorithms, and a
//! bug in an offset is then a wrong value or an error, never undefined behaviour.
#![forbid(unsafe_code)]
/// An enum for a closed set the SPEC writes as text (statuses, occasions, settings):
/// `as_str` gives the text, `parse` reads it back (None for anything else).
macro_rules! text_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// As the SPEC and the output files write it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            #[allow(dead_code)]
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// Read from its text; anything else is refused where it stands, listing the values.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| serde::de::Error::unknown_variant(&text, &[$($text),+]))
            }
        }
    };
}

pub mod at_once;
pub mod caught;
pub mod compute;
pub mod diagnostics;
pub mod error;
pub mod fmt;
pub mod freshness;
pub mod ingest;
pub mod model;
pub mod parts;
pub mod pipeline;
pub mod progress;
pub mod read_ahead;
pub mod shard;
pub mod stages;
pub mod store;
pub mod table;
pub mod timing;
