"""Admin calls through each client's admin API: CreatePartitions, DeleteRecords,
DescribeConfigs, IncrementalAlterConfigs, AlterConfigs and DescribeCluster, the
OffsetForLeaderEpoch check consumers make, and the cluster operations a one-node Kafka
answers without doing anything: ACLs without an authorizer, leader elections, reassignments."""

import pytest
from confluent_kafka import Consumer, ElectionType, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                   AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, NewTopic,
                                   ResourcePatternType, ResourceType)
from kafka import TopicPartition as KPTopicPartition
from kafka import errors as kafka_errors
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                         ConfigResource as KPConfigResource, ConfigResourceType, KafkaAdminClient,
                         NewPartitions as KPNewPartitions, ResourcePattern, ResourcePatternFilter,
                         ResourceType as KPResourceType)


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def test_create_partitions(broker):
    client = admin(broker)
    client.create_topics([NewTopic("grow", num_partitions=1, replication_factor=1)])["grow"].result(10)
    client.create_partitions([NewPartitions("grow", 4)])["grow"].result(10)
    assert len(client.list_topics(timeout=10).topics["grow"].partitions) == 4
    with pytest.raises(Exception) as error:
        client.create_partitions([NewPartitions("grow", 2)])["grow"].result(10)
    assert "INVALID_PARTITIONS" in str(error.value)
    # The new partitions take writes.
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce("grow", b"x", partition=3)
    assert producer.flush(10) == 0
    kafka_python = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    kafka_python.create_partitions({"grow": KPNewPartitions(total_count=6)})
    kafka_python.close()
    assert len(client.list_topics(timeout=10).topics["grow"].partitions) == 6


def test_delete_records_moves_the_log_start(broker):
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for index in range(10):
        producer.produce("trimmed", str(index).encode())
    producer.flush(10)
    client = admin(broker)
    result = client.delete_records([TopicPartition("trimmed", 0, 6)])[TopicPartition("trimmed", 0, 6)].result(10)
    assert result.low_watermark == 6
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused-trimmed"})
    low, high = consumer.get_watermark_offsets(TopicPartition("trimmed", 0), timeout=10)
    consumer.close()
    assert (low, high) == (6, 10)


def test_describe_and_alter_topic_configs(broker):
    client = admin(broker)
    client.create_topics([NewTopic("configured", num_partitions=1, replication_factor=1,
                                   config={"retention.ms": "3600000"})])["configured"].result(10)
    resource = ConfigResource("topic", "configured")
    configs = client.describe_configs([resource])[resource].result(10)
    assert configs["retention.ms"].value == "3600000"
    assert configs["retention.ms"].source == 1  # DYNAMIC_TOPIC_CONFIG
    assert configs["cleanup.policy"].value == "delete" and configs["cleanup.policy"].is_default
    assert "segment.bytes" in configs and "min.insync.replicas" in configs
    # Incremental: SET, APPEND to a list, DELETE.
    changes = ConfigResource("topic", "configured", incremental_configs=[
        ConfigEntry("segment.ms", "60000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ])
    client.incremental_alter_configs([changes])[changes].result(10)
    configs = client.describe_configs([resource])[resource].result(10)
    assert configs["segment.ms"].value == "60000"
    assert configs["cleanup.policy"].value == "delete,compact"
    assert configs["retention.ms"].value == "604800000"
    bad = ConfigResource("topic", "configured", incremental_configs=[
        ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(Exception) as error:
        client.incremental_alter_configs([bad])[bad].result(10)
    assert "INVALID_CONFIG" in str(error.value)
    # kafka-python: describe with the legacy client and broker resources.
    kafka_python = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    described = kafka_python.describe_configs([KPConfigResource(ConfigResourceType.TOPIC, "configured"),
                                               KPConfigResource(ConfigResourceType.BROKER, "1")])
    kafka_python.close()
    assert described, "kafka-python got no DescribeConfigs response"


def test_describe_cluster(broker):
    client = admin(broker)
    description = client.describe_cluster().result(10)
    assert [node.id for node in description.nodes] == [1]
    assert description.controller.id == 1 and description.cluster_id
    kafka_python = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    assert kafka_python.describe_cluster()["controller_id"] == 1
    kafka_python.close()


def test_describe_log_dirs_and_topics_with_kafka_python(broker):
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce("on-disk", b"x" * 100)
    producer.flush(10)
    kafka_python = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    log_dirs = kafka_python.describe_log_dirs()
    assert "on-disk" in str(log_dirs)
    topics = kafka_python.describe_topics(["on-disk"])
    kafka_python.close()
    assert topics[0]["name"] == "on-disk" and topics[0]["error_code"] == 0 and len(topics[0]["partitions"]) == 1


def test_aiokafka_admin_client(broker):
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions as AioNewPartitions, NewTopic as AioNewTopic
    from aiokafka.admin.config_resource import ConfigResource as AioConfigResource, ConfigResourceType as AioType
    from aiokafka.structs import TopicPartition as AioTopicPartition

    async def scenario():
        client = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await client.start()
        try:
            await client.create_topics([AioNewTopic("aio-admin", num_partitions=1, replication_factor=1,
                                                    topic_configs={"retention.ms": "90000"})])
            assert "aio-admin" in await client.list_topics()
            await client.create_partitions({"aio-admin": AioNewPartitions(total_count=3)})
            described = await client.describe_topics(["aio-admin"])
            assert len(described[0]["partitions"]) == 3
            configs = await client.describe_configs([AioConfigResource(AioType.TOPIC, "aio-admin")])
            assert "90000" in str(configs)
            await client.alter_configs([AioConfigResource(AioType.TOPIC, "aio-admin", configs={"retention.ms": "120000"})])
            configs = await client.describe_configs([AioConfigResource(AioType.TOPIC, "aio-admin")])
            assert "120000" in str(configs)
            cluster = await client.describe_cluster()
            assert cluster["controller_id"] == 1
            await client.delete_topics(["aio-admin"])
            assert "aio-admin" not in await client.list_topics()
        finally:
            await client.close()

    asyncio.run(scenario())


def test_acls_without_an_authorizer(broker):
    """Kafka without an authorizer answers SECURITY_DISABLED; so does swiftlet, which has none."""
    client = admin(broker)
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    # librdkafka reports DescribeAcls' top-level error as an empty list, not an exception.
    assert client.describe_acls(everything).result(10) == []
    binding = AclBinding(ResourceType.TOPIC, "guarded", ResourcePatternType.LITERAL, "User:alice", "*",
                         AclOperation.READ, AclPermissionType.ALLOW)
    for future in [*client.create_acls([binding]).values(), *client.delete_acls([everything]).values()]:
        with pytest.raises(KafkaException) as error:
            future.result(10)
        assert error.value.args[0].code() == KafkaError.SECURITY_DISABLED
    kafka_python = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        with pytest.raises(kafka_errors.SecurityDisabledError):
            kafka_python.describe_acls(ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                                                 permission_type=ACLPermissionType.ANY,
                                                 resource_pattern=ResourcePatternFilter(KPResourceType.TOPIC, None,
                                                                                        ACLResourcePatternType.ANY)))
        created = kafka_python.create_acls([ACL(principal="User:alice", host="*", operation=ACLOperation.READ,
                                                permission_type=ACLPermissionType.ALLOW,
                                                resource_pattern=ResourcePattern(KPResourceType.TOPIC, "guarded"))])
        assert created["succeeded"] == [] and created["failed"] == [kafka_errors.SecurityDisabledError]
    finally:
        kafka_python.close()


def test_leader_elections_and_reassignments_on_one_broker(broker):
    client = admin(broker)
    client.create_topics([NewTopic("elected", num_partitions=2, replication_factor=1)])["elected"].result(10)
    results = client.elect_leaders(ElectionType.PREFERRED, [TopicPartition("elected", 0), TopicPartition("elected", 9)]).result(10)
    codes = {partition.partition: error.code() for partition, error in results.items()}
    assert codes == {0: KafkaError.ELECTION_NOT_NEEDED, 9: KafkaError.UNKNOWN_TOPIC_OR_PART}
    assert client.elect_leaders(ElectionType.UNCLEAN, None).result(10) == {}
    kafka_python = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        election = kafka_python.elect_leaders(0, {"elected": [0, 1]})
        assert [p.error_code for p in election.replica_election_results[0].partition_result] == [84, 84]
        altered = kafka_python.alter_partition_reassignments({KPTopicPartition("elected", 0): [1],
                                                              KPTopicPartition("elected", 1): [1, 2]})
        assert altered == {KPTopicPartition("elected", 0): None,
                           KPTopicPartition("elected", 1): kafka_errors.InvalidReplicationAssignmentError}
        cancelled = kafka_python.alter_partition_reassignments({KPTopicPartition("elected", 0): None})
        assert cancelled == {KPTopicPartition("elected", 0): kafka_errors.NoReassignmentInProgressError}
        assert kafka_python.list_partition_reassignments() == {}
    finally:
        kafka_python.close()


def test_scram_credentials_are_recorded(broker):
    """confluent-kafka records credentials (too few iterations is refused, as Kafka refuses
    it) and describes them; kafka-python sees the same and deletes one."""
    from confluent_kafka.admin import (ScramCredentialInfo, ScramMechanism, UserScramCredentialDeletion,
                                       UserScramCredentialUpsertion)
    client = admin(broker)
    assert client.describe_user_scram_credentials().result(10) == {}
    results = client.alter_user_scram_credentials([
        UserScramCredentialUpsertion("alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), b"secret"),
        UserScramCredentialUpsertion("bob", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 100), b"secret"),
    ])
    assert results["alice"].result(10) is None
    with pytest.raises(KafkaException) as error:
        results["bob"].result(10)
    assert error.value.args[0].code() == KafkaError.UNACCEPTABLE_CREDENTIAL
    described = client.describe_user_scram_credentials().result(10)
    assert list(described) == ["alice"]
    assert [(info.mechanism, info.iterations) for info in described["alice"].scram_credential_infos] == [(ScramMechanism.SCRAM_SHA_256, 8192)]
    with pytest.raises(KafkaException) as error:
        client.describe_user_scram_credentials(["carol"])["carol"].result(10)
    assert error.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND
    kafka_python = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        assert "alice" in kafka_python.describe_user_scram_credentials()
        assert "does not exist" in kafka_python.describe_user_scram_credentials(["bob"])["bob"]["error"]
    finally:
        kafka_python.close()
    deleted = client.alter_user_scram_credentials([UserScramCredentialDeletion("alice", ScramMechanism.SCRAM_SHA_256)])
    assert deleted["alice"].result(10) is None
    assert client.describe_user_scram_credentials().result(10) == {}


def test_metadata_quorum_and_replica_log_dirs_with_kafka_python(broker):
    """kafka-python's describe_metadata_quorum: this node leads the quorum alone. Its
    alter_replica_log_dirs: a hosted partition asked into the one log dir (as DescribeLogDirs
    names it) is already there; another directory is not found."""
    from kafka import TopicPartitionReplica
    from kafka.errors import LogDirNotFoundError, NoError, ReplicaNotAvailableError
    client = admin(broker)
    client.create_topics([NewTopic("log-dirs", num_partitions=1, replication_factor=1)])["log-dirs"].result(10)
    kafka_python = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        quorum = kafka_python.describe_metadata_quorum()
        partition = quorum["topics"][0]["partitions"][0]
        assert quorum["topics"][0]["topic_name"] == "__cluster_metadata"
        assert partition["error"] is None and partition["leader_id"] == 1
        assert [voter["replica_id"] for voter in partition["current_voters"]] == [1] and partition["observers"] == []
        assert [node["node_id"] for node in quorum["nodes"]] == [1]
        log_dir = kafka_python.describe_log_dirs()[0]["log_dirs"][0]["log_dir"]
        results = kafka_python.alter_replica_log_dirs({
            TopicPartitionReplica("log-dirs", 0, 1): log_dir,
            TopicPartitionReplica("log-dirs", 7, 1): log_dir,
        })
        assert results[TopicPartitionReplica("log-dirs", 0, 1)] is NoError
        assert results[TopicPartitionReplica("log-dirs", 7, 1)] is ReplicaNotAvailableError
        elsewhere = kafka_python.alter_replica_log_dirs({TopicPartitionReplica("log-dirs", 0, 1): "/no/such/dir"})
        assert elsewhere[TopicPartitionReplica("log-dirs", 0, 1)] is LogDirNotFoundError
    finally:
        kafka_python.close()
