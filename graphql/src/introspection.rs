//! The introspection rule: which schema answers a request, and the one shape limit on
//! introspection.
//!
//! Every query runs under [`MAX_DEPTH`](crate::MAX_DEPTH) and
//! [`MAX_COMPLEXITY`](crate::MAX_COMPLEXITY), which the standard introspection query
//! (graphql-js `getIntrospectionQuery()`: depth 15, complexity 229 here) does not fit. A
//! document whose operations are all queries asking only about the schema (`__schema`,
//! `__type`, `__typename` at the root) is answered instead by a schema that resolves nothing
//! but introspection ([`crate::introspection_schema`]), under limits of its own sized to the
//! standard query — [`INTROSPECTION_MAX_DEPTH`], [`INTROSPECTION_MAX_COMPLEXITY`] — and one
//! more rule ([`MAX_TYPE_EXPANSIONS`]): along any path a type's members (`fields`,
//! `inputFields`, `interfaces`, `possibleTypes`) are expanded at most once, as in the
//! standard query, whose types reached from a field or an argument ask only for `kind`, `name`
//! and `ofType`. So the schema's cycles (type → fields → type → fields …) cannot be walked.

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use std::collections::HashMap;

/// Deepest introspection-only query accepted: graphql-js `getIntrospectionQuery()` with its
/// default `typeDepth` of 9 (`__schema → types → fields → args → type → ofType ×9 → name`).
pub const INTROSPECTION_MAX_DEPTH: usize = 15;
/// Most complex introspection-only query accepted: the standard query with every option
/// graphql-js has (descriptions, `specifiedByURL`, `isRepeatable`, schema description,
/// deprecated input values, `isOneOf`) counts 230; the rest is room for a `__type` look-up or
/// two, not for copies of the schema under aliases.
pub const INTROSPECTION_MAX_COMPLEXITY: usize = 300;
/// How many of a type's member lists may be expanded along one path.
pub const MAX_TYPE_EXPANSIONS: usize = 1;

/// The fields that expand a type into its members, each member leading to types again.
const TYPE_EXPANSIONS: [&str; 4] = ["fields", "inputFields", "interfaces", "possibleTypes"];
/// The root fields of an introspection query.
const INTROSPECTION_ROOTS: [&str; 3] = ["__schema", "__type", "__typename"];

/// Which schema answers a parsed request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// The API, under the ordinary limits.
    Ordinary,
    /// Only introspection, under the introspection limits.
    Introspection,
    /// An introspection query the rule refuses, with the reason.
    Refused(String),
}

/// Where a request goes: see the module's documentation.
pub(crate) fn route(doc: &ExecutableDocument) -> Route {
    let mut walk = Walk {
        doc,
        done: HashMap::new(),
    };
    let only_introspection = doc.operations.iter().all(|(_, op)| {
        op.node.ty == OperationType::Query
            && walk.roots_are_introspection(&op.node.selection_set.node)
    });
    if !only_introspection {
        return Route::Ordinary;
    }
    let expansions = doc
        .operations
        .iter()
        .map(|(_, op)| walk.expansions(&op.node.selection_set.node))
        .max()
        .unwrap_or(0);
    if expansions > MAX_TYPE_EXPANSIONS {
        return Route::Refused(format!(
            "an introspection query expands a type's fields, inputFields, interfaces or \
             possibleTypes at most {MAX_TYPE_EXPANSIONS} time(s) along a path, as the standard \
             introspection query does; this one does it {expansions} times"
        ));
    }
    Route::Introspection
}

/// A walk over a document's selections, following fragment spreads: each fragment's
/// answer is computed once (a spread of a fragment being walked counts nothing: the cycle is
/// refused by validation), so the walk is linear in the document.
struct Walk<'a> {
    doc: &'a ExecutableDocument,
    /// Each fragment's answer, `None` while it is being walked.
    done: HashMap<&'a str, Option<Answer>>,
}

#[derive(Clone, Copy, Default)]
struct Answer {
    /// Every field at this level is an introspection root.
    roots_only: bool,
    /// The most type expansions along one path below.
    expansions: usize,
}

impl<'a> Walk<'a> {
    fn roots_are_introspection(&mut self, set: &'a SelectionSet) -> bool {
        self.answer(set).roots_only
    }

    fn expansions(&mut self, set: &'a SelectionSet) -> usize {
        self.answer(set).expansions
    }

    fn answer(&mut self, set: &'a SelectionSet) -> Answer {
        let mut answer = Answer {
            roots_only: true,
            expansions: 0,
        };
        for item in &set.items {
            let (roots_only, expansions) = match &item.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    let below = self.answer(&f.node.selection_set.node).expansions;
                    (
                        INTROSPECTION_ROOTS.contains(&name),
                        below + usize::from(TYPE_EXPANSIONS.contains(&name)),
                    )
                }
                Selection::InlineFragment(i) => {
                    let a = self.answer(&i.node.selection_set.node);
                    (a.roots_only, a.expansions)
                }
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    let a = self.fragment(name);
                    (a.roots_only, a.expansions)
                }
            };
            answer.roots_only &= roots_only;
            answer.expansions = answer.expansions.max(expansions);
        }
        answer
    }

    fn fragment(&mut self, name: &'a str) -> Answer {
        match self.done.get(name) {
            Some(Some(a)) => return *a,
            // A cycle: validation refuses it, it counts nothing here.
            Some(None) => return Answer::default(),
            None => {}
        }
        let Some(def) = self.doc.fragments.get(name) else {
            // An unknown fragment: validation refuses it.
            return Answer::default();
        };
        self.done.insert(name, None);
        let a = self.answer(&def.node.selection_set.node);
        self.done.insert(name, Some(a));
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn route_of(q: &str) -> Route {
        route(&parse_query(q).expect("a document"))
    }

    #[test]
    fn only_queries_asking_only_about_the_schema_are_introspection() {
        assert_eq!(
            route_of("{ __schema { types { name } } }"),
            Route::Introspection
        );
        assert_eq!(
            route_of("query A { __type(name: \"Query\") { name } __typename }"),
            Route::Introspection
        );
        assert_eq!(
            route_of("{ ...F } fragment F on Query { __schema { queryType { name } } }"),
            Route::Introspection
        );
        assert_eq!(
            route_of("{ __schema { types { name } } census { level } }"),
            Route::Ordinary
        );
        assert_eq!(
            route_of("{ ...F } fragment F on Query { census { level } }"),
            Route::Ordinary
        );
        assert_eq!(route_of("mutation { __typename }"), Route::Ordinary);
        assert_eq!(
            route_of("query A { __typename } query B { census { level } }"),
            Route::Ordinary
        );
    }

    #[test]
    fn a_type_is_expanded_once_along_a_path() {
        assert_eq!(
            route_of("{ __schema { types { fields { type { name } } interfaces { name } } } }"),
            Route::Introspection
        );
        for q in [
            "{ __schema { types { fields { type { fields { name } } } } } }",
            "{ __type(name: \"Client\") { fields { type { ofType { possibleTypes { name } } } } } }",
            "{ __schema { types { ...T } } } fragment T on __Type { inputFields { type { ...U } } } fragment U on __Type { interfaces { name } }",
        ] {
            assert!(matches!(route_of(q), Route::Refused(_)), "{q}");
        }
    }

    #[test]
    fn fragment_cycles_end_the_walk() {
        // Validation refuses these; the walk must only end.
        let q = "{ __schema { types { ...A } } } fragment A on __Type { ofType { ...B } } fragment B on __Type { ofType { ...A } }";
        assert_eq!(route_of(q), Route::Introspection);
    }
}
