-- A NAT gateway's address vouches for an instance's calls only while the gateway has it.
--
-- Why: 0012 ended a gateway's addresses only at the gateway's deletion. A secondary elastic
-- address taken off a gateway (DisassociateNatGatewayAddress) kept vouching for calls from it, so
-- a key used from that address once it served something else was never reported off-instance.
-- Now the view also records disassociations, at the time the address is released: the request's
-- MaxDrainDurationSeconds (default 350) after the call, since until then the address still carries
-- the gateway's existing connections. Each address's association id is kept as well: a
-- disassociation request names association ids, and its response (when there) the addresses.
-- A rebuild of the events (`roletrail rebuild events`) replays earlier records through this view.
--
-- MODIFY QUERY changes the view in place (no window in which an INSERT passes a dropped view).

ALTER TABLE nat_gateway_addresses ADD COLUMN IF NOT EXISTS association_id String AFTER allocation_id;

-- statement-break

ALTER TABLE nat_gateway_addresses_cloudtrail_mv MODIFY QUERY
WITH
    JSONExtractRaw(raw, 'responseElements') AS response,
    JSONExtractRaw(raw, 'requestParameters') AS request,
    -- EC2's newer actions wrap their response in <Action>Response, and their request in <Action>Request.
    if(JSONHas(response, 'CreateNatGatewayResponse'), JSONExtractRaw(response, 'CreateNatGatewayResponse', 'natGateway'),
       JSONExtractRaw(response, 'natGateway')) AS created,
    if(JSONHas(response, 'AssociateNatGatewayAddressResponse'),
       JSONExtractRaw(response, 'AssociateNatGatewayAddressResponse'), response) AS associated,
    if(JSONHas(response, 'DisassociateNatGatewayAddressResponse'),
       JSONExtractRaw(response, 'DisassociateNatGatewayAddressResponse'), response) AS disassociated,
    if(JSONHas(request, 'DisassociateNatGatewayAddressRequest'),
       JSONExtractRaw(request, 'DisassociateNatGatewayAddressRequest'), request) AS released,
    multiIf(event_name = 'CreateNatGateway', created, event_name = 'AssociateNatGatewayAddress', associated,
            event_name = 'DisassociateNatGatewayAddress', disassociated, '') AS gateway,
    -- natGatewayAddressSet.item is one object, or an array of them.
    JSONExtractRaw(gateway, 'natGatewayAddressSet', 'item') AS items,
    if(JSONType(items) = 'Array', JSONExtractArrayRaw(items), if(items = '', [], [items])) AS addresses,
    -- The association ids a disassociation request names: a string, {"content": ...}, or a list of
    -- either (EC2's query lists, as CloudTrail renders them).
    coalesce(nullIf(JSONExtractRaw(released, 'AssociationId'), ''), JSONExtractRaw(released, 'associationIds'),
             JSONExtractRaw(released, 'AssociationIds')) AS named,
    arrayFilter(x -> x != '', arrayMap(x -> if(JSONType(x) = 'Object', JSONExtractString(x, 'content'),
                                              JSONExtractString(x)),
        multiIf(JSONType(named) = 'Array', JSONExtractArrayRaw(named),
                JSONType(named) = 'Object' AND JSONHas(named, 'item'), JSONExtractArrayRaw(named, 'item'),
                named = '', [], [named]))) AS association_ids,
    coalesce(nullIf(JSONExtractString(gateway, 'natGatewayId'), ''), JSONExtractString(released, 'NatGatewayId'),
             JSONExtractString(released, 'natGatewayId')) AS gateway_id,
    -- Released after the drain (the request's MaxDrainDurationSeconds, 350 by default).
    event_time + toIntervalSecond(ifNull(nullIf(toUInt32OrZero(replaceAll(JSONExtractRaw(released, 'MaxDrainDurationSeconds'), '"', '')), 0),
                                        350)) AS released_at,
    coalesce(
        nullIf(JSONExtractString(response, 'DeleteNatGatewayResponse', 'natGatewayId'), ''),
        nullIf(JSONExtractString(response, 'natGatewayId'), ''),
        nullIf(JSONExtractString(request, 'DeleteNatGatewayRequest', 'NatGatewayId'), ''),
        JSONExtractString(request, 'natGatewayId')) AS deleted,
    multiIf(
        event_name IN ('CreateNatGateway', 'AssociateNatGatewayAddress'),
        arrayMap(a -> tuple(JSONExtractString(gateway, 'natGatewayId'), JSONExtractString(gateway, 'vpcId'),
                            JSONExtractString(gateway, 'subnetId'), JSONExtractString(a, 'allocationId'),
                            JSONExtractString(a, 'publicIp'), JSONExtractString(a, 'privateIp'),
                            if(event_name = 'CreateNatGateway', 'created', 'associated'),
                            JSONExtractString(a, 'associationId')),
                 addresses),
        -- What the response lists, else the association ids of the request.
        event_name = 'DisassociateNatGatewayAddress' AND length(addresses) > 0,
        arrayMap(a -> tuple(gateway_id, '', '', JSONExtractString(a, 'allocationId'), JSONExtractString(a, 'publicIp'),
                            JSONExtractString(a, 'privateIp'), 'disassociated', JSONExtractString(a, 'associationId')),
                 addresses),
        event_name = 'DisassociateNatGatewayAddress',
        arrayMap(a -> tuple(gateway_id, '', '', '', '', '', 'disassociated', a), association_ids),
        event_name = 'DeleteNatGateway',
        [tuple(deleted, '', '', '', '', '', 'deleted', '')],
        event_name = 'AllocateAddress',
        [tuple('', '', '', JSONExtractString(response, 'allocationId'), JSONExtractString(response, 'publicIp'), '',
               'allocated', '')],
        []) AS found,
    arrayJoin(found) AS item
SELECT
    item.1 AS nat_gateway_id,
    item.2 AS vpc_id,
    item.3 AS subnet_id,
    item.4 AS allocation_id,
    item.8 AS association_id,
    item.5 AS public_ip,
    item.6 AS private_ip,
    item.7 AS change,
    'cloudtrail' AS source,
    toString(recipient_account_id) AS account_id,
    toString(aws_region) AS region,
    if(item.7 = 'disassociated', released_at, event_time) AS changed_at,
    event_id AS evidence
FROM cloudtrail_events
WHERE event_name IN ('CreateNatGateway', 'AssociateNatGatewayAddress', 'DisassociateNatGatewayAddress',
                     'DeleteNatGateway', 'AllocateAddress')
    AND error_code = '' AND event_source = 'ec2.amazonaws.com'
    AND (item.1 != '' OR (item.4 != '' AND item.5 != ''))
    AND (item.7 != 'created' OR item.2 != '');
