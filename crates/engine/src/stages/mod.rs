//! The computations of SPEC §5–§10, §14 and §15: pure functions of the loaded data
//! and the checked pipeline (no files, environment or terminal).
pub mod badges;
pub mod care;
pub mod contests;
pub mod facts;
pub mod goals;
pub mod growth;
pub mod growth_plan;
pub mod hall_of_fame;
pub mod layers;
pub mod metrics;
pub mod notices;
pub mod points;
pub mod scouting;
pub mod tiers;
