profile: qa
tables:
  gl_accounts: { card_clearing: "1050" }
  customers: { pt-cust-1001: ACME01 }
connectors:
  sagepro: { base_url: "https://sagepro-qa.example.internal", client_id: x, client_secret: "${env:X}" }
