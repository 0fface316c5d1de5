export { UserAgent } from './user-agent.js';
export type { UserAgentOptions, CreateRequestOptions, RequestOptions, RequestHandler } from './user-agent.js';
export { IncomingRequest } from './incoming-request.js';
export type { RespondOptions } from './incoming-request.js';
export { Dialog } from './dialog.js';
export type { DialogState, InDialogRequestOptions } from './dialog.js';
