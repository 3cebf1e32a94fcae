/**
 * A function of one object computed once per object, then answered from memory: what every host of
 * a build shares (a table of 50 000 mailboxes, a zone list) is made once per spec, topology or
 * render input, not once per host. Held weakly, so it lives as long as its key.
 */
export function oncePer<K extends object, V>(compute: (key: K) => V): (key: K) => V {
  const values = new WeakMap<K, V>();
  return (key) => {
    if (!values.has(key)) values.set(key, compute(key));
    return values.get(key)!;
  };
}
