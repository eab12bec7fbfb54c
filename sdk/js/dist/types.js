// The shapes of the WebSocket protocol (docs/protocol.md). Server objects
// may gain fields in later versions: every type here lists what v1 sends and
// stays open to more.
/** The kinds that change another message (they are messages with their own seq). */
export const CHANGE_KINDS = ['edit', 'recall', 'react', 'unreact'];
