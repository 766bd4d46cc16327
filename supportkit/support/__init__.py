"""AWS Support as data: the action catalog, support plans and the AWS managed policies that touch it."""
