"""Problems met while loading or detecting, reported once per kind so a bad field on a
million events gives one inspector message, not a million."""


class ProblemLog:
    MAX_KINDS = 100
    MAX_MESSAGE_CHARS = 1000  # messages quote data; a megabyte value must not become a megabyte warning

    def __init__(self):
        self._first_message = {}
        self._counts = {}
        self._unreported = []
        self._overflowed = False

    def report(self, kind, message):
        count = self._counts.get(kind, 0)
        self._counts[kind] = count + 1
        if count:
            return
        if len(self._first_message) < self.MAX_KINDS:
            if len(message) > self.MAX_MESSAGE_CHARS:
                message = message[:self.MAX_MESSAGE_CHARS - 3] + "..."
            self._first_message[kind] = message
            self._unreported.append(message)
        elif not self._overflowed:
            # Said once, so a lookup with hundreds of broken rows cannot hide later problems silently.
            self._overflowed = True
            self._unreported.append("More than %d kinds of problem were met; the rest are counted but not shown."
                                    % self.MAX_KINDS)

    def drain(self):
        """Messages not yet handed out, each once."""
        messages, self._unreported = self._unreported, []
        return messages

    def counts(self):
        return dict(self._counts)

    def messages(self):
        return list(self._first_message.values())
