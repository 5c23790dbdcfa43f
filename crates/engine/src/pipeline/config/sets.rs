//! The closed sets of the pipeline file that are read as enums: a value outside a set
//! is refused by the reader at its line and column, with the values it may take.

text_enum! {
    /// The language of what people read (default zh-CN).
    #[derive(Default)]
    pub enum Locale {
        #[default]
        ZhCn => "zh-CN",
        En => "en",
    }
}

impl Locale {
    pub fn is_en(self) -> bool {
        self == Locale::En
    }
}

text_enum! {
    /// How judges' scores are put on one scale (SPEC §9).
    pub enum Normalize {
        None => "none",
        ZScore => "zscore",
    }
}

text_enum! {
    /// Whether a goal is met by reaching its target or by staying under it (SPEC §10).
    pub enum Direction {
        Up => "up",
        Down => "down",
    }
}

text_enum! {
    /// The hall of fame's season (SPEC §14).
    pub enum Season {
        Month => "month",
        Quarter => "quarter",
        Year => "year",
    }
}

text_enum! {
    /// How often layers are evaluated (SPEC §7): month ends.
    pub enum Cadence {
        Month => "month",
    }
}
