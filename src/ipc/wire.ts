// Wire constants shared by every IPC server and client.
export const PROTOCOL_VERSION = 1;
export const MAX_BODY_BYTES = 64 * 1024;

export interface ErrorBody {
  error: { code: string; message: string };
}
