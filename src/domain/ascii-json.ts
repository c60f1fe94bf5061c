/**
 * JSON that is pure ASCII: every UTF-16 unit from U+007F up is escaped as \uXXXX (JSON.parse
 * reverses it exactly). SQS refuses some characters a reading may legally carry (U+FFFE, U+FFFF
 * and others outside its allowed set), and an SNS message reaches its SQS subscribers, so every
 * message the pipeline builds from record content goes out in this form.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
