//! The committed schema is the contract: this fails when the code's schema drifts from it.
//! Regenerate with `cargo run -- graphql-schema > graphql/schema.graphql`.

#[test]
fn committed_schema_matches_the_code() {
    let committed = include_str!("../schema.graphql");
    let current = carepath_graphql::sdl();
    assert!(
        committed == current,
        "graphql/schema.graphql is out of date: run `cargo run -- graphql-schema > graphql/schema.graphql`"
    );
}
