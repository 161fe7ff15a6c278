// One value per object, made on first use and dropped with the object (per storm, per target).
export function memoized<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const values = new WeakMap<K, V>();
  return (key) => {
    let v = values.get(key);
    if (v === undefined) {
      v = make(key);
      values.set(key, v);
    }
    return v;
  };
}
