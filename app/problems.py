"""Problems met while loading or detecting, reported once per kind so a bad field on a
million events gives one inspector message, not a million."""


class ProblemLog:
    MAX_KINDS = 100

    def __init__(self):
        self._first_message = {}
        self._counts = {}
        self._unreported = []

    def report(self, kind, message):
        count = self._counts.get(kind, 0)
        self._counts[kind] = count + 1
        if count == 0 and len(self._first_message) < self.MAX_KINDS:
            self._first_message[kind] = message
            self._unreported.append(message)

    def drain(self):
        """Messages not yet handed out, each once."""
        messages, self._unreported = self._unreported, []
        return messages

    def counts(self):
        return dict(self._counts)

    def messages(self):
        return list(self._first_message.values())
