-- Where an instance's calls reach AWS from besides its own addresses, and when its interfaces
-- moved between instances.
--
-- An instance in a private subnet calls AWS through a NAT gateway of its VPC: CloudTrail's
-- sourceIPAddress is then the gateway's elastic address, which is the instance's path, not an
-- attacker's. nat_gateway_addresses holds the gateways of each VPC with their addresses, from
-- CloudTrail (CreateNatGateway, AssociateNatGatewayAddress, DeleteNatGateway, and AllocateAddress,
-- which names the public address of an allocation id: a gateway's creation record often carries
-- the allocation id alone) and from an operator's `aws ec2 describe-nat-gateways` output.
-- instance_attachments holds what CloudTrail says of instances' VPCs and interface attachments:
-- RunInstances (the VPC and subnet, and the attachment id of each interface) and
-- AttachNetworkInterface, and DetachNetworkInterface, whose request names only the attachment id.

CREATE TABLE IF NOT EXISTS nat_gateway_addresses
(
    nat_gateway_id String,
    vpc_id String,
    subnet_id String,
    allocation_id String,
    public_ip String,
    private_ip String,
    -- created or associated (a gateway's address), deleted (a gateway), allocated (an elastic
    -- address: allocation id and public address, no gateway).
    change LowCardinality(String),
    source LowCardinality(String),
    account_id LowCardinality(String),
    region LowCardinality(String),
    changed_at DateTime('UTC'),
    -- The record that showed it (event id, inventory object).
    evidence String,
    -- Rows without a VPC (associations, deletions, allocations) are found by gateway or allocation id.
    INDEX idx_nat_gateway nat_gateway_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_allocation allocation_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree
-- Read by VPC (the gateways an instance's VPC has); every column of an observation is in the key,
-- so the same record loaded twice, or replayed by a rebuild, is one row after merges.
ORDER BY (vpc_id, nat_gateway_id, allocation_id, public_ip, private_ip, change, source, changed_at, evidence)
SETTINGS non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS nat_gateway_addresses_cloudtrail_mv TO nat_gateway_addresses AS
WITH
    JSONExtractRaw(raw, 'responseElements') AS response,
    JSONExtractRaw(raw, 'requestParameters') AS request,
    -- EC2's newer actions wrap their response in <Action>Response.
    if(JSONHas(response, 'CreateNatGatewayResponse'), JSONExtractRaw(response, 'CreateNatGatewayResponse', 'natGateway'),
       JSONExtractRaw(response, 'natGateway')) AS created,
    if(JSONHas(response, 'AssociateNatGatewayAddressResponse'),
       JSONExtractRaw(response, 'AssociateNatGatewayAddressResponse'), response) AS associated,
    multiIf(event_name = 'CreateNatGateway', created, event_name = 'AssociateNatGatewayAddress', associated, '') AS gateway,
    -- natGatewayAddressSet.item is one object, or an array of them.
    JSONExtractRaw(gateway, 'natGatewayAddressSet', 'item') AS items,
    if(JSONType(items) = 'Array', JSONExtractArrayRaw(items), if(items = '', [], [items])) AS addresses,
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
                            if(event_name = 'CreateNatGateway', 'created', 'associated')),
                 addresses),
        event_name = 'DeleteNatGateway',
        [tuple(deleted, '', '', '', '', '', 'deleted')],
        event_name = 'AllocateAddress',
        [tuple('', '', '', JSONExtractString(response, 'allocationId'), JSONExtractString(response, 'publicIp'), '',
               'allocated')],
        []) AS found,
    arrayJoin(found) AS item
SELECT
    item.1 AS nat_gateway_id,
    item.2 AS vpc_id,
    item.3 AS subnet_id,
    item.4 AS allocation_id,
    item.5 AS public_ip,
    item.6 AS private_ip,
    item.7 AS change,
    'cloudtrail' AS source,
    toString(recipient_account_id) AS account_id,
    toString(aws_region) AS region,
    event_time AS changed_at,
    event_id AS evidence
FROM cloudtrail_events
WHERE event_name IN ('CreateNatGateway', 'AssociateNatGatewayAddress', 'DeleteNatGateway', 'AllocateAddress')
    AND error_code = '' AND event_source = 'ec2.amazonaws.com'
    AND (item.1 != '' OR (item.4 != '' AND item.5 != ''))
    AND (item.7 != 'created' OR item.2 != '');

-- statement-break

CREATE TABLE IF NOT EXISTS instance_attachments
(
    instance_id String,
    interface_id String,
    attachment_id String,
    vpc_id String,
    subnet_id String,
    -- launched (an instance in its VPC and subnet), attached or detached (an interface; a
    -- detachment names only its attachment id).
    change LowCardinality(String),
    source LowCardinality(String),
    account_id LowCardinality(String),
    region LowCardinality(String),
    changed_at DateTime('UTC'),
    evidence String,
    -- An instance's interfaces are looked up by interface (who else held them), their
    -- detachments by attachment id.
    INDEX idx_interface interface_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_attachment attachment_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (instance_id, interface_id, attachment_id, change, source, changed_at, evidence)
SETTINGS non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS instance_attachments_cloudtrail_mv TO instance_attachments AS
WITH
    JSONExtractRaw(raw, 'responseElements') AS response,
    JSONExtractRaw(raw, 'requestParameters') AS request,
    multiIf(
        event_name = 'RunInstances',
        arrayFlatten(arrayMap(instance -> arrayConcat(
            [tuple(JSONExtractString(instance, 'instanceId'), '', '', JSONExtractString(instance, 'vpcId'),
                   JSONExtractString(instance, 'subnetId'), 'launched')],
            arrayMap(eni -> tuple(JSONExtractString(instance, 'instanceId'), JSONExtractString(eni, 'networkInterfaceId'),
                                  JSONExtractString(eni, 'attachment', 'attachmentId'), JSONExtractString(eni, 'vpcId'),
                                  JSONExtractString(eni, 'subnetId'), 'attached'),
                     JSONExtractArrayRaw(instance, 'networkInterfaceSet', 'items'))),
            JSONExtractArrayRaw(response, 'instancesSet', 'items'))),
        event_name = 'AttachNetworkInterface',
        [tuple(JSONExtractString(request, 'instanceId'), JSONExtractString(request, 'networkInterfaceId'),
               JSONExtractString(response, 'attachmentId'), '', '', 'attached')],
        event_name = 'DetachNetworkInterface',
        [tuple('', '', JSONExtractString(request, 'attachmentId'), '', '', 'detached')],
        []) AS found,
    arrayJoin(found) AS item
SELECT
    item.1 AS instance_id,
    item.2 AS interface_id,
    item.3 AS attachment_id,
    item.4 AS vpc_id,
    item.5 AS subnet_id,
    item.6 AS change,
    'cloudtrail' AS source,
    toString(recipient_account_id) AS account_id,
    toString(aws_region) AS region,
    event_time AS changed_at,
    event_id AS evidence
FROM cloudtrail_events
WHERE event_name IN ('RunInstances', 'AttachNetworkInterface', 'DetachNetworkInterface')
    AND error_code = '' AND event_source = 'ec2.amazonaws.com'
    AND (item.1 != '' OR item.3 != '');
