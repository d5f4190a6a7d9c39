"""The fake chat robots (:mod:`.server`): DingTalk, Lark, WeCom and the signed webhook, each checking its
signature, token, size and rate with its own error bodies."""
