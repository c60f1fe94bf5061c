/** What people paste: the token, a whole `Bearer …` header, or a JSON string with its quotes. Pure: no DOM. */
export function cleanToken(pasted: string): string {
  return pasted
    .trim()
    .replace(/^authorization:\s*/i, '')
    .replace(/^bearer\s+/i, '')
    .replace(/^["']|["'],?$/g, '')
    .trim();
}
