// Carepath's start-up of the vendored GraphiQL (not vendored: ours). It is a file of its own,
// not an inline script, so the page's Content-Security-Policy can allow only 'self'.
(function () {
  'use strict';
  var subscriptionUrl =
    (window.location.protocol === 'https:' ? 'wss://' : 'ws://') + window.location.host + '/graphql/ws';
  // Queries and mutations go to POST /graphql with the headers of the Headers tab; a
  // subscription opens /graphql/ws (graphql-transport-ws) and sends those same headers as the
  // connection_init payload, where the server reads "Authorization".
  var fetcher = GraphiQL.createFetcher({ url: '/graphql', subscriptionUrl: subscriptionUrl });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      // The token goes in the Headers tab, opened at the start. Headers are kept in this
      // browser only if "Persist headers" is turned on in GraphiQL's settings.
      defaultEditorToolsVisibility: 'headers',
      defaultHeaders: '{\n  "Authorization": "Bearer PASTE-YOUR-TOKEN-HERE"\n}',
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
      schemaDescription: true,
      defaultQuery:
        '# Carepath GraphQL. Put your token in the Headers tab below\n' +
        '# ("Authorization": "Bearer <token>"), then run this with Ctrl-Enter.\n' +
        '# The Docs button (top left) shows the schema.\n' +
        '{\n  me {\n    role\n    organization {\n      name\n    }\n  }\n}\n',
    })
  );
})();
