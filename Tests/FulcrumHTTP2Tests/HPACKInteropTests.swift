@testable import FulcrumHTTP2
import XCTest

/// Blocks written by another implementation's encoder (Python `hpack` 4,
/// dynamic-table indexing, Huffman on every other block, table size updates
/// to 256 and back to 4096), decoded in sequence with one table: an
/// interoperability check beyond the RFC's examples.
final class HPACKInteropTests: XCTestCase {
    static let steps: [(String, [(String, String)])] = [
        ("838744042f702f31410b6578616d706c652e636f6d7a0564326220587a063b3b6359633b7a256459623362596265303b65643066645832646362582f3b313d3d32305966596330202f313d400f782d637573746f6d2d686561646572276364203b6631652f3b62633131322f3d63635a2f6362303d303332613d3266642f625830655933",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/1"), (":authority", "example.com"), ("user-agent", "d2b X"), ("user-agent", ";;cYc;"), ("user-agent", "dYb3bYbe0;ed0fdX2dcbX/;1==20YfYc0 /1="), ("x-custom-header", "cd ;f1e/;bc112/=ccZ/cb0=032a=2fd/bX0eY3")]),
        ("8387448362b619c34089f2b585ed6950958d279767f4bf7fbf626799492979f31b12fe8065fb104aa4707f",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/3"), (":authority", "example.com"), ("x-request-id", "3Ze;Z;23YecfeYYa/fZ0ae;21e b=")]),
        ("8387bfc473072f33625863583d7f00083162646165643261530e33655a32322f64642f3d2f2f30637f0007315a2f66206158",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/3"), (":authority", "example.com"), ("referer", "/3bXcX="), ("x-request-id", "1bdaed2a"), ("accept", "3eZ22/dd/=//0c"), ("x-request-id", "1Z/f aX")]),
        ("8387c9c87a9b013f5414a2e6a079fe73679fe28c0863fd63f7f0500844e727363f6091fc606c089233f8c4bf61233032496528ff7f019d80ac08a518e450bf7f9f83fdfc029cc3fbf658c5029f6a14aa2838251f7e8a2b124615146248f9fe7f7f098391483f7a84802a29f9",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/1"), (":authority", "example.com"), ("user-agent", "0cZ 2f2Y 1YXY3YX /2aaZ/ZX2=22cYdY/"), ("cookie", "X/a/2cd3X/f;1c3=3cffea"), ("x-request-id", "=e/2eeaad e;XXaZX0 Y1Z;eb2= ; ee  a=fa"), ("x-request-id", "e/db1  /dbYX"), ("x-custom-header", "d ="), ("user-agent", "=1  X")]),
        ("8387c9ce5f2059205a583d653b64333d3163593b635830646532655a653d5964332f6659663b73163b583231633261313d3d61333120302063645964635a7f0203665a6573113365202f31635a62663b635a61635a63595311643d61313b5a6562205964665a62665830",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/3"), (":authority", "example.com"), ("content-type", "Y ZX=e;d3=1cY;cX0de2eZe=Yd3/fYf;"), ("referer", ";X21c2a1==a31 0 cdYdcZ"), ("x-custom-header", "fZe"), ("referer", "3e /1cZbf;cZacZcY"), ("accept", "d=a1;Zeb YdfZbfX0")]),
        ("8387448362b61ad47f029697f443fd8c6353f14639c127db0ca80fce61fc2b228f7f088127",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/4"), (":authority", "example.com"), ("x-custom-header", "fZ2aZbaa X /Y=d;/3 0XY1Xe32b"), ("x-request-id", "c")]),
        ("8387d1d67a063320305930625f0c665a3d615a32313159623058",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/3"), (":authority", "example.com"), ("user-agent", "3 0Y0b"), ("content-type", "fZ=aZ211Yb0X")]),
        ("8387d9d85193231faa7e735064fd21598d91801cc8a1590b1f",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/1"), (":authority", "example.com"), ("accept-language", "c/Z XY acZce3b3a00Yc e31/")]),
        ("3fe101828744042f702f32410b6578616d706c652e636f6d400c782d726571756573742d6964013b7e216159636162653264333d6261592f5a613d63206320632f5a635a5958593d2f33635f1362586365315a3065612f622f5a64582f3020305f1e3d645830632f61303d63203d5a335858636365205a3265205a6432592f2f730266615f1d3330653b323331643161313133645861305a3263333363323b5a625a64",
         [(":method", "GET"), (":scheme", "https"), (":path", "/p/2"), (":authority", "example.com"), ("x-request-id", ";"), ("x-request-id", "aYcabe2d3=baY/Za=c c c/ZcZYXY=/3c"), ("content-type", "bXce1Z0ea/b/ZdX/0 0"), ("content-type", "=dX0c/a0=c =Z3XXcce Z2e Zd2Y//"), ("referer", "fa"), ("content-type", "30e;231d1a113dXa0Z2c33c2;ZbZd")]),
        ("8287448362b61b41882f91d35d055c87a74089f2b585ed6950958d278dfdfb503f82fb1b3f848fee02835f842cac7dff518f07efeb3cc0c3324b293f14639c0183",
         [(":method", "GET"), (":scheme", "https"), (":path", "/p/5"), (":authority", "example.com"), ("x-request-id", "Z; 1X2;a3Xcb;=e0"), ("content-type", "ef/;"), ("accept-language", "0ZZ3Y0/3dffcX /Y=1=")]),
        ("838744042f702f31410b6578616d706c652e636f6d6010636631633159325a58613b333b205833400f782d637573746f6d2d68656164657216622f5a3265202058635a5933333d3b306165623b2f2f7a0533203d3d59530e656520643d63626165596230655a73086463302058335a59",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/1"), (":authority", "example.com"), ("cookie", "cf1c1Y2ZXa;3; X3"), ("x-custom-header", "b/Z2e  XcZY33=;0aeb;//"), ("user-agent", "3 ==Y"), ("accept", "ee d=cbaeYb0eZ"), ("referer", "dc0 X3ZY")]),
        ("8287448362b60141882f91d35d055c87a7408bf2b12d424f4ad3947216cf98fd0f3614e7cc7f608c7f8c7d93f79fd8b9b1187ec4cfe0c1538c63f01f9ce0e7fa0918979b1f73842b31fe7f7a9d2fdc71cacc01909287f255208c0c88304b20c9fa417dc9f8c881f648d8609383f022607f7cd98d98e0247fbf8408bf431fef",
         [(":method", "GET"), (":scheme", "https"), (":path", "/p/0"), (":authority", "example.com"), ("x-custom-header", "Z1Y/ YYa;0baX/;cZY;2Y/b1;23Xa0"), ("accept", "/X0XY=YZ0d/fY/"), ("referer", "e3bX"), ("user-agent", "e;bbf3=1dcf1Xf =b0321=fdacZc2;dX320;cb/"), ("cookie", "=X12/a;Y3b3b=cbZXc12Z1bZ")]),
        ("838744042f702f32410b6578616d706c652e636f6d7a27636159642f3d335a3b2f652f666130655931313d326320583366593b63622f31663b64635a6358531b2f3d6659653b3d596430305a5a325a5a583d596659596530583163731159202059643d6264612f593d3262305964",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/2"), (":authority", "example.com"), ("user-agent", "caYd/=3Z;/e/fa0eY11=2c X3fY;cb/1f;dcZcX"), ("accept", "/=fYe;=Yd00ZZ2ZZX=YfYYe0X1c"), ("referer", "Y  Yd=bda/Y=2b0Yd")]),
        ("8287448362b60341882f91d35d055c87a760841292c1fb7a8517e4620963608d8ff061fb14a027e46c304fb9194089f2b585ed6950958d279b24acfefd801f71805f7f6317e32cfe0fee5fb908c8a094a38cac93519994a204aa4a491963f0058d80c6c925e6cfe312fe46ca92b22f",
         [(":method", "GET"), (":scheme", "https"), (":path", "/p/1"), (":authority", "example.com"), ("cookie", "2 f=Z"), ("user-agent", "2Xb21eb"), ("cookie", "bXa1;2f0cXb//c;d3"), ("x-request-id", "cf3Z;00;b02;;a2X33Xa;f;dc32=feabe3c"), ("accept-language", "fe20f fcd3/X0eb/1b3cfY3X/fXb3 f32")]),
        ("828744042f702f31410b6578616d706c652e636f6d600362316473273d303b30593b33323d203d6661612f3d593d3d662f33646365323b32633d202062626563312063",
         [(":method", "GET"), (":scheme", "https"), (":path", "/p/1"), (":authority", "example.com"), ("cookie", "b1d"), ("referer", "=0;0Y;32= =faa/=Y==f/3dce2;2c=  bbec1 c")]),
        ("8287448362b61ac14089f2b585ed6950958d2782249f60876012f320bf650f408bf2b12d424f4ad3947216cf982fea8c7e7ea9cc228ff25665fd0b32fec8a46281493f59177e9311441241ce58c0a7e80238f9941f7f6a0a32ff",
         [(":method", "GET"), (":scheme", "https"), (":path", "/p/4"), (":authority", "example.com"), ("x-request-id", "cd"), ("cookie", "/0fYc2Zf1"), ("x-custom-header", "eZ /XZ Y12bXf3fZ13fZd b2= dZ32"), ("x-custom-header", "2e21c=Yfb0 Z01abYe0;; 2be")]),
        ("3fe11f838744042f702f31410b6578616d706c652e636f6d7a0262615114642032593b306558322f66656159653d6463655a73116162323d202f59666162626133665966625301587f081b5820203b6620306330622f61333b3d633d6659645a596264315a62",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/1"), (":authority", "example.com"), ("user-agent", "ba"), ("accept-language", "d 2Y;0eX2/feaYe=dceZ"), ("referer", "ab2= /Yfabba3fYfb"), ("accept", "X"), ("x-request-id", "X  ;f 0c0b/a3;=c=fYdZYbd1Zb")]),
        ("8387448362b61bc4739bfd07e1141cbfbcff250fe321e6cb0c2831fdf307e32494b18e493f7f019128c71963246417e119939fe7e491c64031538793f0010fdfe8c57f0a8e8c4151800fec7f6a482623fc20257381ef",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/5"), (":authority", "example.com"), ("referer", "Z0Xc afZYXf1X31Y3// aa;Y0X3cfebadd"), ("x-request-id", "eaabebcbc2Xc3dYXXdbbc0/"), ("accept", "dX011;Za2"), ("x-custom-header", "b21 /0a;a; d2/bXc0f"), ("referer", "v")]),
        ("828744042f702f32ca7a172f642f662f32205a663058592f6664632f643132643333",
         [(":method", "GET"), (":scheme", "https"), (":path", "/p/2"), (":authority", "example.com"), ("user-agent", "/d/f/2 Zf0XY/fdc/d12d33")]),
        ("8287448362b619cc7a93fc07efda92b3ce02c620a858032c107ef3287f5f8cfcfd014bcc2a0a5e61fcfd937f0786fc64a5003eff7f068b924fdfc6608c6cfdf3501f5f822fef7381e7",
         [(":method", "GET"), (":scheme", "https"), (":path", "/p/3"), (":authority", "example.com"), ("user-agent", "X0Z; f3Y=eb21 e=1f==ZYe1"), ("content-type", "XZ0eeY1 2fY1XZd"), ("x-request-id", "X3ee00;"), ("x-custom-header", "ddZX3=ba3;Y 0"), ("content-type", "eZ"), ("referer", "Y")]),
        ("8387ccd2730f5966643d3b315a643b5933665a3b2f5f013b7f041561332f64625a5866582032643d582f20613220313b5f0e6633206432625a5a33336261633b73175a645930332059333d58666563582f5965323b3d30652f",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/5"), (":authority", "example.com"), ("referer", "Yfd=;1Zd;Y3fZ;/"), ("content-type", ";"), ("x-request-id", "a3/dbZXfX 2d=X/ a2 1;"), ("content-type", "f3 d2bZZ33bac;"), ("referer", "ZdY03 Y3=XfecX/Ye2;=0e/")]),
        ("8387d8d7738dfb9581fe8b9802c31f641140cf7a84095410c7608407ec85e7",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/1"), (":authority", "example.com"), ("referer", ";f/aZ2Y01//;c2e03"), ("user-agent", "1e 2aa"), ("cookie", "0ZdeY")]),
        ("8287ccda7f040e33666330582f5820633d64645a3b60092f2f622f3d652f592f7f00236166313d2f303d323b3b6366326161623164202f2f6562583b65316432312f2058303b",
         [(":method", "GET"), (":scheme", "https"), (":path", "/p/3"), (":authority", "example.com"), ("x-request-id", "3fc0X/X c=ddZ;"), ("cookie", "//b/=e/Y/"), ("x-request-id", "af1=/0=2;;cf2aab1d //ebX;e1d21/ X0;")]),
        ("8387cfdd7a8e0098642a7ea82fc6240fe0405247739c66364120e3fc623519293f238259258fee4188a0fd04bf71847f71ff5f9b8e4fb66020d92b1f72118fc28fec63909f921581fef38258c45203",
         [(":method", "POST"), (":scheme", "https"), (":path", "/p/3"), (":authority", "example.com"), ("user-agent", "02/31 Z 2X/d1X10ecb"), ("referer", "3b30dabX/b 3ecXb=fdfb;da2e0Z0f;b1a;b"), ("content-type", "bd;3=ca3e/;dc/Xea;aadcXde/aZY=fb2ec0")]),
    ]

    func testPythonHPACKEncoderSequence() {
        var d = HPACKDecoder()
        var list = HeaderList()
        for (n, (block, expected)) in Self.steps.enumerated() {
            XCTAssertEqual(hex(block).withUnsafeBytes { d.decode($0, into: &list) }, .complete, "block \(n)")
            XCTAssertEqual(list, HeaderList(expected), "block \(n)")
        }
        XCTAssertGreaterThan(d.table.count, 0)
    }
}
