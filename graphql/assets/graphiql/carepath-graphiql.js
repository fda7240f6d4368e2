// Carepath's start-up of the vendored GraphiQL (not vendored: ours). It is a file of its own,
// not an inline script, so the page's Content-Security-Policy can allow only 'self'.
(function () {
  'use strict';
  // The one <style> element GraphiQL adds (a dialog's scroll lock) carries the page's nonce,
  // which the Content-Security-Policy allows.
  var nonce = document.querySelector('meta[name="carepath-style-nonce"]');
  if (nonce) {
    window.__webpack_nonce__ = nonce.getAttribute('content');
  }
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
      // The token goes in the Headers tab, opened at the start. Headers are never stored in
      // the browser (no "persist headers"): after a reload the token is pasted again.
      defaultEditorToolsVisibility: 'headers',
      defaultHeaders: '{\n  "Authorization": "Bearer PASTE-YOUR-TOKEN-HERE"\n}',
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
      schemaDescription: true,
      defaultQuery:
        '# Carepath GraphQL. Your token goes in the Headers tab:\n' +
        '#   "Authorization": "Bearer <token>"\n' +
        '# Run with Ctrl-Enter; Docs (top left) shows the schema.\n' +
        '{\n  me {\n    role\n    organization {\n      name\n    }\n  }\n}\n',
    })
  );
})();
