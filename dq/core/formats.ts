/**
 * Soda Core v3's named formats for `valid format`, `invalid format` and `missing format`
 * (docs: SodaCL reference, "Validity metrics" > "List of valid formats"). Each is the POSIX
 * regular expression Soda sends to PostgreSQL (`col ~ 'regex'`), rebuilt here from the same
 * pieces so a value is accepted or rejected exactly as in Soda, quirks included: "money point"
 * lets any character stand for the decimal point, and "credit card number" anchors only its first
 * and last alternatives. test/integration/dq-formats.test.ts runs Soda's own vectors
 * (soda/core/tests/data_source/test_formats.py) through PostgreSQL.
 */

/** Optional spaces. */
const S = ' *';
const SIGN = '[-+]?';
const PLUS = String.raw`\+?`;
const MINUS = String.raw`\-`;
const DIGITS = '[0-9]+';
const DEC_POINT_COMMA = String.raw`(\d+([\.,]\d+)?|([\.,]\d+))`;
const DEC_POINT = String.raw`(\d+(\.\d+)?|(\.\d+))`;
const DEC_COMMA = String.raw`(\d+(,\d+)?|(,\d+))`;
const ZERO_INT = '0+';
const ZERO_POINT_COMMA = String.raw`(0+([\.,]0+)?|([\.,]0+))`;
const ZERO_POINT = String.raw`(0+(\.0+)?|(\.0+))`;
const ZERO_COMMA = '(0+(,0+)?|(,0+))';
const MONEY_POINT = String.raw`\d{1,3}(\,\d\d\d)*(.\d+)?`;
const MONEY_COMMA = String.raw`\d{1,3}(\.\d\d\d)*(,\d+)?`;
const CURRENCY = '([A-Z]{3}|[a-z]{3})';
const DAY = '(0?[1-9]|[12][0-9]|3[01])';
const MONTH = '(0?[1-9]|1[012])';
const YEAR = String.raw`([12][0-9])?\d\d`;
const HOUR24 = String.raw`(0?[0-9]|[01]\d|2[0-3])`;
const HOUR12 = '(0?[0-9]|1[0-2])';
const MINUTE = '[0-5]?[0-9]';
const SECOND = String.raw`[0-5]?[0-9]([.,]\d+)?`;
const YEAR4 = '[12][0-9]{3}';
const MONTH2 = '(0[1-9]|1[012])';
const DAY2 = '(0[1-9]|[12][0-9]|3[01])';
const MINUTE2 = '[0-5][0-9]';
const DATE_SEP = String.raw`[-\./]`;

const whole = (body: string): string => `^${S}${body}${S}$`;

/** `name`, `positive name`, `negative name` for one number shape. */
function signed(name: string, shape: string, zero: string, suffix = ''): [string, string][] {
  return [
    [name, whole(`${SIGN}${S}${shape}${suffix}`)],
    [`positive ${name}`, whole(`${PLUS}${S}${shape}${suffix}`)],
    [`negative ${name}`, whole(`(${MINUS}${S}${shape}|${zero})${suffix}`)],
  ];
}

const PERCENT = `${S}%`;
const HEX4 = '[0-9a-fA-F]{1,4}';
const IPV4_OCTET = '(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])';
const IPV4_FULL = String.raw`(${IPV4_OCTET}\.){3,3}${IPV4_OCTET}`;
const IPV6 = [
  `(${HEX4}:){7,7}${HEX4}`,
  `(${HEX4}:){1,7}:`,
  `(${HEX4}:){1,6}:${HEX4}`,
  `(${HEX4}:){1,5}(:${HEX4}){1,2}`,
  `(${HEX4}:){1,4}(:${HEX4}){1,3}`,
  `(${HEX4}:){1,3}(:${HEX4}){1,4}`,
  `(${HEX4}:){1,2}(:${HEX4}){1,5}`,
  `${HEX4}:((:${HEX4}){1,6})`,
  `:((:${HEX4}){1,7}|:)`,
  'fe80:(:[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]{1,}',
  `::(ffff(:0{1,4}){0,1}:){0,1}${IPV4_FULL}`,
  `(${HEX4}:){1,4}:${IPV4_FULL}`,
].join('|');
const IPV4 = String.raw`^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$`;
const EMAIL_CHARS = 'a-zA-ZÀ-ÿĀ-ſƀ-ȳ0-9';

export const SODA_FORMATS: ReadonlyMap<string, string> = new Map<string, string>([
  ...signed('integer', DIGITS, ZERO_INT),
  ...signed('decimal', DEC_POINT_COMMA, ZERO_POINT_COMMA),
  ...signed('decimal point', DEC_POINT, ZERO_POINT),
  ...signed('decimal comma', DEC_COMMA, ZERO_COMMA),
  ...signed('percentage', DEC_POINT_COMMA, ZERO_POINT_COMMA, PERCENT),
  ...signed('percentage point', DEC_POINT, ZERO_POINT, PERCENT),
  ...signed('percentage comma', DEC_COMMA, ZERO_COMMA, PERCENT),
  ['money', whole(`${SIGN}${S}${DEC_POINT_COMMA}${S}${CURRENCY}`)],
  ['money point', whole(`${SIGN}${S}${MONEY_POINT}${S}${CURRENCY}`)],
  ['money comma', whole(`${SIGN}${S}${MONEY_COMMA}${S}${CURRENCY}`)],
  ['date us', whole(`${MONTH}${DATE_SEP}${DAY}${DATE_SEP}${YEAR}`)],
  ['date eu', whole(`${DAY}${DATE_SEP}${MONTH}${DATE_SEP}${YEAR}`)],
  ['date inverse', whole(`${YEAR}${DATE_SEP}${MONTH}${DATE_SEP}${DAY}`)],
  [
    'date iso 8601',
    whole(
      `${YEAR4}-?(${MONTH2}-?${DAY2}|W[0-5]\\d(-?[1-7])?|[0-3]\\d\\d)` +
        `([ T]${HOUR24}(:?${MINUTE2}(:?${MINUTE2}([.,]\\d+)?)?)?([+-]${HOUR24}:?${MINUTE2}|Z)?)?`,
    ),
  ],
  ['time 24h', whole(`${HOUR24}:${MINUTE}(:${SECOND})?`)],
  ['time 24h nosec', whole(`${HOUR24}:${MINUTE}`)],
  ['time 12h', whole(`${HOUR12}:${MINUTE}(:${SECOND})?`)],
  ['time 12h nosec', whole(`${HOUR12}:${MINUTE}`)],
  ['timestamp 24h', whole(`${HOUR24}:${MINUTE}:${SECOND}`)],
  ['timestamp 12h', whole(`${HOUR12}:${MINUTE}:${SECOND}`)],
  ['uuid', String.raw`^[0-9a-fA-F]{8}\-[0-9a-fA-F]{4}\-[0-9a-fA-F]{4}\-[0-9a-fA-F]{4}\-[0-9a-fA-F]{12}$`],
  ['ip address', IPV4],
  ['ipv4 address', IPV4],
  ['ipv6 address', `^(${IPV6})$`],
  ['email', String.raw`^[${EMAIL_CHARS}.\-_%+]+@[${EMAIL_CHARS}.\-_%]+\.[A-Za-z]{2,4}$`],
  ['phone number', String.raw`^((\+[0-9]{1,2}\s)?\(?[0-9]{3}\)?[\s.-])?[0-9]{3}[\s.-][0-9]{4}$`],
  [
    'credit card number',
    '^[0-9]{14}|[0-9]{15}|[0-9]{16}|[0-9]{17}|[0-9]{18}|[0-9]{19}|([0-9]{4}-){3}[0-9]{4}|([0-9]{4} ){3}[0-9]{4}$',
  ],
]);

/** Soda's numeric formats (FormatHelper.is_numeric): with `valid min`/`valid max` Soda casts text to a number. */
export function isNumericFormat(format: string): boolean {
  return /^((positive|negative) )?(integer|decimal|decimal point|decimal comma|percentage|percentage point|percentage comma)$|^money( point| comma)?$/.test(
    format,
  );
}
