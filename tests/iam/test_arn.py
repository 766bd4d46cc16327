"""ARN fields and partitions, in the one place the package reads them.

[identifiers] IAM User Guide, "IAM identifiers", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html:
ARNs are ``arn:partition:service:region:account:resource``; "partition identifies the partition for the
resource. For standard AWS Regions, the partition is aws. If you have resources in other partitions, the
partition is aws-partitionname. For example, the partition for resources in the China (Beijing) Region is aws-cn."
"""

import pytest

from supportkit.iam.arn import Arn
from supportkit.iam.evaluate import Principal, PrincipalError
from supportkit.support.managed import aws_managed_policy, is_aws_managed_arn


def test_the_six_fields_and_a_resource_with_colons():
    arn = Arn.parse("arn:aws:trustedadvisor:us-east-1:111122223333:checks/security/a:b")
    assert arn == Arn("aws", "trustedadvisor", "us-east-1", "111122223333", "checks/security/a:b")
    assert arn.in_known_partition and arn.in_an_account
    assert Arn.parse("not-an-arn") is None and Arn.parse("arn:aws:iam") is None


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_principals_and_managed_policies_in_other_partitions(partition):
    principal = Principal.parse(f"arn:{partition}:iam::111122223333:user/alice")
    assert (principal.partition, principal.account, principal.name) == (partition, "111122223333", "alice")
    assert is_aws_managed_arn(f"arn:{partition}:iam::aws:policy/AWSSupportAccess")
    assert aws_managed_policy(f"arn:{partition}:iam::aws:policy/AWSSupportAccess") is not None


def test_an_unknown_partition_is_no_principal():
    with pytest.raises(PrincipalError):
        Principal.parse("arn:example:iam::111122223333:user/alice")
    assert aws_managed_policy("arn:example:iam::aws:policy/AWSSupportAccess") is None
