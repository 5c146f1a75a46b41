# Sourced by contract/run.sh after bootstrap (KEY, PLATFORM, BASE set): real objects for the
# generated requests to address, exported for contract/schemathesis.toml.
id() { jq -r .id; }
RESELLER=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$PLATFORM\",\"kind\":\"reseller\",\"name\":\"Contract Reseller\"}" | id)
FEATURES='{"mms":true,"campaigns":true,"scheduling":true,"international":true,"inbound":true}'
api "$KEY" PATCH "/v1/accounts/$RESELLER/features" "$FEATURES" > /dev/null
RESELLER_ADMIN=$(api "$KEY" POST "/v1/accounts/$RESELLER/users" '{"name":"Reseller Admin","role":"admin"}' | id)
RESELLER_KEY=$(api "$KEY" POST "/v1/users/$RESELLER_ADMIN/keys" '{"label":"contract"}' | jq -r .secret)
CLIENT=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Contract Client\"}" | id)
SANDBOX=$(api "$KEY" POST /v1/accounts "{\"parent_id\":\"$RESELLER\",\"kind\":\"client\",\"name\":\"Contract Sandbox\"}" | id)
api "$RESELLER_KEY" PATCH "/v1/accounts/$CLIENT/features" "$FEATURES" > /dev/null
CLIENT_USER=$(api "$KEY" POST "/v1/accounts/$CLIENT/users" '{"name":"Client User","role":"user","email":"user@client.example"}' | id)
CLIENT_USER_KEY=$(api "$KEY" POST "/v1/users/$CLIENT_USER/keys" '{"label":"contract"}' | jq -r .secret)
SPARE_KEY=$(api "$KEY" POST "/v1/users/$CLIENT_USER/keys" '{"label":"spare"}' | jq -r .key.id)
# Its webhook's deliveries fail (nothing listens on port 9) and stay in the log to be listed and redelivered.
WEBHOOK=$(api "$RESELLER_KEY" POST "/v1/accounts/$CLIENT/webhooks" '{"url":"http://127.0.0.1:9/hooks","events":["credits.changed"]}' | id)
for unit in sms mms; do
  api "$KEY" POST "/v1/accounts/$PLATFORM/credits/transfer" "{\"unit\":\"$unit\",\"amount\":10000000,\"to_account_id\":\"$RESELLER\"}" > /dev/null
  api "$KEY" POST "/v1/accounts/$RESELLER/credits/transfer" "{\"unit\":\"$unit\",\"amount\":1000000,\"to_account_id\":\"$CLIENT\"}" > /dev/null
done
PACKAGE=$(api "$KEY" POST "/v1/accounts/$RESELLER/packages" '{"name":"Contract Pack","sms_credits":10,"price_minor":100,"currency":"EUR"}' | id)
RESERVATION=$(api "$KEY" POST "/v1/accounts/$CLIENT/reservations" '{"unit":"sms","amount":1}' | id)
ENTRY=$(api "$KEY" POST "/v1/accounts/$CLIENT/charges" '{"unit":"sms","amount":5}' | jq -r .id)
api "$KEY" POST "/v1/accounts/$CLIENT/gateways" \
  '{"provider":"kannel","name":"Office","base_url":"http://127.0.0.1:9/cgi-bin/sendsms","username":"u","password":"p","sender":"+6421000000","home_prefix":"64"}' > /dev/null
MESSAGE=$(api "$CLIENT_USER_KEY" POST "/v1/accounts/$CLIENT/messages" \
  "{\"to\":\"+64215550100\",\"text\":\"Hello\",\"send_at\":\"$(date -u -d "+30 days" +%Y-%m-%dT%H:%M:%SZ)\"}" | id)
CONTACT=$(api "$KEY" POST "/v1/accounts/$CLIENT/contacts" '{"first_name":"Ana","mobile":"+64215550101","sms_consent":true}' | id)
LIST=$(api "$KEY" POST "/v1/accounts/$CLIENT/contact-lists" '{"name":"Contract List"}' | id)
api "$KEY" POST "/v1/contact-lists/$LIST/members" "{\"contact_ids\":[\"$CONTACT\"]}" > /dev/null
DELIVERY=$(api "$RESELLER_KEY" GET "/v1/accounts/$CLIENT/webhooks/$WEBHOOK/deliveries" | jq -r '.items[0].id')
CAMPAIGN=$(api "$KEY" POST "/v1/accounts/$CLIENT/campaigns" "{\"name\":\"Contract\",\"list_id\":\"$LIST\",\"template\":\"Hi {{first_name}}\"}" | id)
export CD_RESELLER=$RESELLER CD_CLIENT=$CLIENT CD_SANDBOX=$SANDBOX CD_CLIENT_USER=$CLIENT_USER CD_SPARE_KEY=$SPARE_KEY \
  CD_PACKAGE=$PACKAGE CD_RESERVATION=$RESERVATION CD_ENTRY=$ENTRY CD_MESSAGE=$MESSAGE CD_CONTACT=$CONTACT CD_LIST=$LIST \
  CD_CAMPAIGN=$CAMPAIGN CD_WEBHOOK=$WEBHOOK CD_DELIVERY=$DELIVERY
